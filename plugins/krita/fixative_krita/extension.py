"""Krita's side of the plug-in: the two File-menu actions, dialogs, progress and messages.

Nothing here raises into Krita: every failure becomes a message box (or, in non-interactive
mode, a log line), and the document is only read.

Non-interactive mode (`FIXATIVE_KRITA_NONINTERACTIVE=1`): no dialogs; the remembered settings
(`writeSetting("fixative", ...)`) are used as they are, and every outcome is appended as a
JSON line to `$FIXATIVE_KRITA_LOG` when set.
"""

from __future__ import annotations

import json
import os
import sys
import time

from fixative_host import HostCancelled, HostError, choices, run_export
from krita import Extension
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication, QMessageBox, QProgressDialog

from . import bridge
from .settings import KritaSettings, default_output

EXPORT_ACTION = "fixative_export_protected"
EXPORT_ALL_ACTION = "fixative_export_all_protected"


def non_interactive() -> bool:
    return os.environ.get("FIXATIVE_KRITA_NONINTERACTIVE") == "1"


class FixativeExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self._krita = parent

    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:
        # "file" is the File menu's object name: the entries appear at its end.
        single = window.createAction(EXPORT_ACTION, "Export Protected...", "file")
        single.triggered.connect(self.export_active)
        every = window.createAction(
            EXPORT_ALL_ACTION, "Export All Open Documents Protected...", "file"
        )
        every.triggered.connect(self.export_all)

    # -- actions ---------------------------------------------------------------------------

    def export_active(self) -> None:
        try:
            doc = self._krita.activeDocument()
            if doc is None:
                self._report("error", "Export Protected: no document is open.")
                return
            settings = KritaSettings.load(self._krita)
            output = settings.output_path or default_output(doc, settings)
            if not non_interactive():
                from .dialog import ExportDialog

                dialog = ExportDialog(settings, output, folder=False, parent=self._parent_window())
                if not dialog.exec_():
                    return
                settings = dialog.result_settings()
                settings.save(self._krita)
                output = settings.output_path or default_output(doc, settings)
            self._protect_one(doc, output, settings, label=bridge.document_name(doc))
        except HostCancelled:
            self._report("cancelled", "Export Protected: cancelled, nothing was written.")
        except HostError as exc:
            self._report("error", str(exc))
        except Exception as exc:  # a plug-in bug must not take Krita down
            self._report(
                "error", f"Export Protected failed unexpectedly: {type(exc).__name__}: {exc}"
            )

    def export_all(self) -> None:
        try:
            docs = list(self._krita.documents())
            if not docs:
                self._report("error", "Export All Protected: no document is open.")
                return
            settings = KritaSettings.load(self._krita)
            if not non_interactive():
                from .dialog import ExportDialog

                dialog = ExportDialog(
                    settings, settings.output_dir, folder=True, parent=self._parent_window()
                )
                if not dialog.exec_():
                    return
                settings = dialog.result_settings()
                settings.save(self._krita)
            failures = []
            for index, doc in enumerate(docs):
                output = default_output(doc, settings, settings.output_dir, index)
                label = f"{bridge.document_name(doc)} ({index + 1}/{len(docs)})"
                try:
                    self._protect_one(doc, output, settings, label=label)
                except HostCancelled:
                    raise
                except HostError as exc:
                    failures.append(str(exc))
            if failures:
                done = len(docs) - len(failures)
                self._report(
                    "error",
                    f"{done} of {len(docs)} documents exported; failed:\n" + "\n".join(failures),
                )
        except HostCancelled:
            self._report(
                "cancelled", "Export All Protected: cancelled; files already written were kept."
            )
        except Exception as exc:
            self._report(
                "error", f"Export All Protected failed unexpectedly: {type(exc).__name__}: {exc}"
            )

    # -- helpers ----------------------------------------------------------------------------

    def _protect_one(self, doc, output: str, settings: KritaSettings, *, label: str) -> dict:
        started = time.monotonic()
        raw = bridge.read_document(self._krita, doc)
        progress = QProgressDialog(
            f"Protecting {label}...", "Cancel", 0, 1000, self._parent_window()
        )
        progress.setWindowTitle("Fixative")
        progress.setWindowModality(Qt.WindowModal)
        progress.setMinimumDuration(0)
        progress.setValue(0)

        def step(fraction: float, message: str) -> None:
            # The core's own words per step and tile, e.g. "step 3/8, tile 2/4".
            progress.setLabelText(choices.progress_text(label, message))
            progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
            QApplication.processEvents()

        def cancelled() -> bool:
            QApplication.processEvents()
            return progress.wasCanceled()

        try:
            report = run_export(
                raw,
                settings.job(output),
                progress=step,
                cancel=cancelled,
                python=settings.external_python or None,
                external=os.environ.get("FIXATIVE_OUT_OF_PROCESS") == "1",
            )
        finally:
            progress.close()
        self._report(
            "ok",
            f"Protected copy written to {output}",
            output=output,
            report=report,
            seconds=time.monotonic() - started,
        )
        return report

    def _parent_window(self):
        window = self._krita.activeWindow()
        return window.qwindow() if window is not None else None

    def _report(self, kind: str, message: str, **extra) -> None:
        log = os.environ.get("FIXATIVE_KRITA_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"kind": kind, "message": message, **extra}) + "\n")
        if non_interactive():
            print(f"fixative: {kind}: {message}", file=sys.stderr)
            return
        parent = self._parent_window()
        if kind == "error":
            QMessageBox.warning(parent, "Fixative", message)
        elif kind == "ok" and parent is not None:
            parent.statusBar().showMessage(message, 8000)
