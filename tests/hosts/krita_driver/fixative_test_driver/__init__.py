"""A pykrita plug-in that drives the Fixative plug-in inside the real Krita GUI (tests only).

When the main window exists it opens the documents listed in /results/krita-spec.json,
runs each step (write Fixative's settings, trigger one of its actions on a document),
records what happened in /results/krita-result.json, then quits Krita through File > Quit.
"""

import hashlib
import json
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication, QProgressDialog

RESULTS = "/results"
LOG = f"{RESULTS}/fixative-log.jsonl"


def _log_lines() -> list:
    try:
        with open(LOG, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def _digest(doc) -> str:
    return hashlib.sha256(bytes(doc.pixelData(0, 0, doc.width(), doc.height()))).hexdigest()


def _activate(krita, window, view) -> bool:
    """Make `view` the active one; True when Krita's active document is then its document."""
    view.setVisible()
    window.showView(view)
    QApplication.processEvents()
    active = krita.activeDocument()
    return active is not None and active.fileName() == view.document().fileName()


def _progress_dialogs(*, shown: bool = True) -> list:
    """Fixative's progress dialogs (those of earlier steps stay around, hidden)."""
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QProgressDialog)
        and w.windowTitle() == "Fixative"
        and (w.isVisible() or not shown)
    ]


def _press_cancel() -> None:
    """Press Cancel on Fixative's progress dialog, as a user would (before it even shows)."""
    for widget in _progress_dialogs(shown=False):
        widget.cancel()


class _Watcher:
    """Reads Fixative's progress dialog each time the plug-in lets Qt run (its progress
    callbacks call processEvents), keeping every label text shown; with `cancel_at`, presses
    Cancel once a label contains that text (e.g. "step 1/2": between the core's steps)."""

    def __init__(self, cancel_at: str | None) -> None:
        self.cancel_at = cancel_at
        self.labels: list[str] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self._poll)
        self.timer.start(0)

    def _poll(self) -> None:
        for widget in _progress_dialogs():
            text = widget.labelText()
            if not self.labels or self.labels[-1] != text:
                self.labels.append(text)
            if self.cancel_at and self.cancel_at in text:
                widget.cancel()
                self.cancel_at = None


def _check_dialog() -> dict:
    """Build Fixative's export dialog, change format and strength as a user would, read back."""
    from fixative_krita.dialog import ExportDialog
    from fixative_krita.settings import KritaSettings

    dialog = ExportDialog(KritaSettings(), f"{RESULTS}/a.png", folder=False)
    dialog.show()
    QApplication.processEvents()
    fresh = {
        "mode": dialog.mode.currentData(),
        "modes": [dialog.mode.itemData(i) for i in range(dialog.mode.count())],
        "mode_help": dialog.mode_help.text(),
        "views": [dialog.view.itemData(i) for i in range(dialog.view.count())],
        "view_labels": [dialog.view.itemText(i) for i in range(dialog.view.count())],
        "steps_text": dialog.steps.text(),
        "advanced_visible": dialog.advanced.isVisible(),
    }
    dialog.format.setCurrentIndex(dialog.format.findData("jpeg"))
    dialog.strength.setCurrentIndex(dialog.strength.findData("high"))
    dialog.mode.setCurrentIndex(dialog.mode.findData("fast"))
    fast_help, steps_enabled = dialog.mode_help.text(), dialog.steps.isEnabled()
    dialog.advanced_toggle.click()  # unfold Advanced, as a user would
    QApplication.processEvents()
    advanced_shown = dialog.advanced.isVisible()
    dialog.view.setCurrentIndex(dialog.view.findData("native"))
    dialog.steps.setValue(4)
    chosen = dialog.result_settings()
    state = {
        "quality_enabled": dialog.quality.isEnabled(),
        "alpha_enabled": dialog.alpha.isEnabled(),
        "fast_help": fast_help,
        "steps_enabled_when_fast": steps_enabled,
        "advanced_shown": advanced_shown,
    }
    dialog.close()
    return {
        "fresh": fresh,
        "output_path": chosen.output_path,
        "fmt": chosen.fmt,
        "strength": chosen.strength,
        "mode": chosen.mode,
        "view": chosen.view,
        "steps": chosen.steps,
        **state,
    }


def _trace(text: str) -> None:
    with open(f"{RESULTS}/driver-trace.txt", "a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def _run() -> None:
    krita = Krita.instance()
    result = {"steps": []}
    try:
        with open(f"{RESULTS}/krita-spec.json", encoding="utf-8") as fh:
            spec = json.load(fh)
        window = krita.activeWindow()
        menu = window.qwindow().menuBar()
        file_menu = next(a.menu() for a in menu.actions() if a.objectName() == "file")
        result["file_menu"] = [a.objectName() for a in file_menu.actions()]
        docs = {}
        for entry in spec["documents"]:
            _trace(f"open {entry}")
            if "path" in entry:
                krita.setBatchmode(True)  # no import dialogs
                doc = krita.openDocument(entry["path"])
                krita.setBatchmode(False)
            else:
                w, h, model, depth = entry["create"]
                doc = krita.createDocument(w, h, entry["key"], model, depth, "", 72.0)
            docs[entry["key"]] = (doc, window.addView(doc))
            result.setdefault("documents", {})[entry["key"]] = {
                "depth": doc.colorDepth(),
                "model": doc.colorModel(),
                "profile": doc.colorProfile(),
            }
        for step in spec["steps"]:
            doc, view = docs[step["doc"]]
            activated = _activate(krita, window, view)
            for key, value in step.get("settings", {}).items():
                krita.writeSetting(
                    "fixative", key, str(value).lower() if isinstance(value, bool) else str(value)
                )
            _trace(f"step {step['name']}")
            before, modified = _digest(doc), doc.modified()
            seen = len(_log_lines())
            canceller = QTimer()
            if step.get("cancel"):
                # Fires from the plug-in's processEvents() calls once its dialog exists.
                canceller.timeout.connect(_press_cancel)
                canceller.start(0)
            watcher = _Watcher(step.get("cancel_at"))
            krita.action(step["action"]).trigger()
            canceller.stop()
            watcher.timer.stop()
            result["steps"].append(
                {
                    "name": step["name"],
                    "progress_labels": watcher.labels,
                    "activated": activated,
                    "log": _log_lines()[seen:],
                    "pixels_unchanged": _digest(doc) == before,
                    "modified_before": modified,
                    "modified_after": doc.modified(),
                    "profile_after": doc.colorProfile(),
                    "depth_after": doc.colorDepth(),
                }
            )
        result["dialog"] = _check_dialog()
        result["alive"] = krita.activeWindow() is not None and len(krita.documents()) == len(docs)
    except Exception:
        result["exception"] = traceback.format_exc()
    with open(f"{RESULTS}/krita-result.json", "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    for doc in krita.documents():
        doc.setModified(False)  # no "save changes?" prompt on quit
    krita.action("file_quit").trigger()


class Driver(Extension):
    def setup(self) -> None:
        # Poll for the main window rather than trusting windowCreated's timing.
        self._timer = QTimer()
        self._timer.timeout.connect(self._poll)
        self._timer.start(500)

    def _poll(self) -> None:
        window = Krita.instance().activeWindow()
        if window is not None and window.qwindow().isVisible():
            self._timer.stop()
            QTimer.singleShot(1000, _run)

    def createActions(self, window) -> None:
        pass


Krita.instance().addExtension(Driver(Krita.instance()))
