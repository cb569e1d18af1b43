"""Krita's side of the plug-in: the two File-menu actions, dialogs, preview, progress and
messages.

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
from collections.abc import Callable
from pathlib import Path

from fixative_host import HostCancelled, HostError, RawImage, choices, run_export
from fixative_host.preview import run_preview
from krita import Extension

from . import bridge
from .qt import QApplication, QMessageBox, QProgressDialog, Qt, QTimer
from .settings import KritaSettings, default_output

EXPORT_ACTION = "fixative_export_protected"
EXPORT_ALL_ACTION = "fixative_export_all_protected"
# Krita's own File > Export entries: ours go right after the last of them that exists.
EXPORT_ANCHORS = ("file_export_advanced", "file_export_file")
PLACE_TRIES = 50  # x 100 ms: how long to wait for Krita to build its menu bar


def non_interactive() -> bool:
    return os.environ.get("FIXATIVE_KRITA_NONINTERACTIVE") == "1"


class FixativeExtension(Extension):
    def __init__(self, parent, package_mismatch: str | None = None):
        super().__init__(parent)
        self._krita = parent
        # fixative_host.abi's message when deps/ was built for another Python or platform.
        self._mismatch = package_mismatch

    def setup(self) -> None:
        if self._mismatch:
            # Once Krita's window is up (a message box during start-up has no parent).
            QTimer.singleShot(0, lambda: self._report("package", self._mismatch))

    def _package_refuses(self, settings: KritaSettings) -> bool:
        """True (after saying why) when the bundled modules cannot load and no External
        Python is set to run the core instead."""
        if not self._mismatch or settings.external_python:
            return False
        self._report("error", self._mismatch)
        return True

    def createActions(self, window) -> None:
        # "file" is the File menu's object name: createAction appends there, after Quit.
        single = window.createAction(EXPORT_ACTION, "Export Protected...", "file")
        single.triggered.connect(self.export_active)
        every = window.createAction(
            EXPORT_ALL_ACTION, "Export All Open Documents Protected...", "file"
        )
        every.triggered.connect(self.export_all)
        # `window` is deleted once createActions returns; its QMainWindow stays.
        place_beside_export(window.qwindow(), [single, every])

    # -- actions ---------------------------------------------------------------------------

    def export_active(self) -> None:
        try:
            doc = self._krita.activeDocument()
            if doc is None:
                self._report("error", "Export Protected: no document is open.")
                return
            settings = KritaSettings.load(self._krita)
            if self._package_refuses(settings):
                return
            output = settings.output_path or default_output(doc, settings)
            if not non_interactive():
                from .dialog import ExportDialog

                dialog = ExportDialog(
                    settings,
                    output,
                    folder=False,
                    preview=self._previewer(doc),
                    parent=self._parent_window(),
                )
                if not dialog.exec():
                    return
                settings = dialog.result_settings()
                settings.save(self._krita)
                output = settings.output_path or default_output(doc, settings)
            self._protect_one(doc, output, settings, label=short_name(doc))
            self._show_success([output])
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
            if self._package_refuses(settings):
                return
            if not non_interactive():
                from .dialog import ExportDialog

                active = self._krita.activeDocument()
                dialog = ExportDialog(
                    settings,
                    settings.output_dir,
                    folder=True,
                    preview=self._previewer(active) if active is not None else None,
                    parent=self._parent_window(),
                )
                if not dialog.exec():
                    return
                settings = dialog.result_settings()
                settings.save(self._krita)
            failures, written = [], []
            for index, doc in enumerate(docs):
                output = default_output(doc, settings, settings.output_dir, index)
                label = f"{short_name(doc)} ({index + 1}/{len(docs)})"
                try:
                    self._protect_one(doc, output, settings, label=label)
                    written.append(output)
                except HostCancelled:
                    raise
                except HostError as exc:
                    failures.append(str(exc))
            if failures:
                self._report(
                    "error",
                    f"{len(written)} of {len(docs)} documents exported; failed:\n"
                    + "\n".join(failures),
                )
            else:
                self._show_success(written)
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
        report = self._with_progress(
            label,
            self._parent_window(),
            lambda progress, cancel: run_export(
                raw,
                settings.job(output),
                progress=progress,
                cancel=cancel,
                python=settings.external_python or None,
                external=out_of_process(),
            ),
        )
        self._report(
            "ok",
            f"Protected copy written to {output}",
            output=output,
            report=report,
            seconds=time.monotonic() - started,
        )
        return report

    def _previewer(self, doc) -> Callable[[KritaSettings], RawImage | None]:
        """The dialog's "Preview what the AI sees": `doc` protected in memory, as a sheet."""

        def preview(settings: KritaSettings) -> RawImage | None:
            parent = QApplication.activeModalWidget() or self._parent_window()
            try:
                raw = bridge.read_document(self._krita, doc)
                sheet = self._with_progress(
                    f"{short_name(doc)} for the preview",
                    parent,
                    lambda progress, cancel: run_preview(
                        raw,
                        settings.protect_settings(),
                        keep_alpha=settings.keep_alpha,
                        progress=progress,
                        cancel=cancel,
                        python=settings.external_python or None,
                        external=out_of_process(),
                    ),
                )
            except HostCancelled:
                return None
            except HostError as exc:
                self._report("error", str(exc), parent=parent)
                return None
            except Exception as exc:  # a plug-in bug must not take Krita down
                self._report("error", f"Preview failed unexpectedly: {type(exc).__name__}: {exc}")
                return None
            self._report("preview", f"Preview of {short_name(doc)}")
            return sheet

        return preview

    @staticmethod
    def _with_progress(label: str, parent, work: Callable):
        """Run `work(progress, cancel)` under a progress dialog with Cancel."""
        dialog = QProgressDialog(f"Protecting {label}...", "Cancel", 0, 1000, parent)
        dialog.setWindowTitle("Fixative")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setMinimumWidth(360)
        dialog.setValue(0)

        def step(fraction: float, message: str) -> None:
            # The core's own words per step and tile, e.g. "step 3/8, tile 2/4".
            dialog.setLabelText(choices.progress_text(label, message))
            dialog.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
            QApplication.processEvents()

        def cancelled() -> bool:
            QApplication.processEvents()
            return dialog.wasCanceled()

        try:
            return work(step, cancelled)
        finally:
            dialog.close()

    def _show_success(self, outputs: list[str]) -> None:
        """One message naming what was written; it stays until the artist closes it."""
        if non_interactive() or not outputs:
            return
        folders = {str(Path(path).parent) for path in outputs}
        names = "\n".join(Path(path).name for path in outputs)
        where = folders.pop() if len(folders) == 1 else "their documents' folders"
        if len(outputs) == 1:
            text = f"Protected copy written:\n{names}\n\nin {where}"
        else:
            text = f"{len(outputs)} protected copies written:\n{names}\n\nin {where}"
        parent = self._parent_window()
        if parent is not None:
            parent.statusBar().showMessage(text.replace("\n\n", " ").replace("\n", " "), 8000)
        QMessageBox.information(parent, "Fixative", text)

    def _parent_window(self):
        window = self._krita.activeWindow()
        return window.qwindow() if window is not None else None

    def _report(self, kind: str, message: str, *, parent=None, **extra) -> None:
        """Log every outcome; show errors (successes: `_show_success`, once per action)."""
        log = os.environ.get("FIXATIVE_KRITA_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"kind": kind, "message": message, **extra}) + "\n")
        if non_interactive():
            print(f"fixative: {kind}: {message}", file=sys.stderr)
            return
        if kind in ("error", "package"):
            QMessageBox.warning(parent or self._parent_window(), "Fixative", message)


def out_of_process() -> bool:
    return os.environ.get("FIXATIVE_OUT_OF_PROCESS") == "1"


def short_name(doc) -> str:
    """The document's file name without its folder: what a progress dialog has room for."""
    return Path(bridge.document_name(doc)).name


def place_beside_export(qwindow, actions: list, tries: int = PLACE_TRIES) -> None:
    """Move `actions` from the end of the File menu to just after Krita's Export entries.

    `Window.createAction` only names a menu: Krita appends the action there after every
    extension's createActions has run, when it builds the menu bar; and its menus are plain
    QMenus. So the move waits until the actions are in the File menu, and is made again each
    time the menu is about to show, in case Krita rebuilds it. If Krita's Export entries are
    not found (another version, a customised menu), the entries stay at the end, and work.
    """
    try:
        menu = file_menu(qwindow)
        if menu is None or not all(action in menu.actions() for action in actions):
            if tries > 0:
                QTimer.singleShot(100, lambda: place_beside_export(qwindow, actions, tries - 1))
            return
        _move_after_export(menu, actions)
        if not menu.property("fixative_placed"):
            menu.setProperty("fixative_placed", True)
            menu.aboutToShow.connect(lambda: _move_after_export(menu, actions))
    except RuntimeError:  # the window closed meanwhile: nothing to place
        pass


def file_menu(qwindow):
    """Krita's File menu (object name "file"), or None while the menu bar is not built."""
    menus = [a.menu() for a in qwindow.menuBar().actions() if a.objectName() == "file"]
    return menus[0] if menus and menus[0] is not None else None


def _move_after_export(menu, actions: list) -> None:
    entries = menu.actions()
    names = [a.objectName() for a in entries]
    anchor = next((name for name in EXPORT_ANCHORS if name in names), None)
    if anchor is None:
        return
    index = names.index(anchor) + 1
    if entries[index : index + len(actions)] == actions:
        return  # already there
    before = next((a for a in entries[index:] if a not in actions), None)
    for action in actions:
        menu.removeAction(action)
        menu.insertAction(before, action)  # before None: at the end
