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


def _press_cancel() -> None:
    """Press Cancel on Fixative's progress dialog, as a user would."""
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QProgressDialog) and widget.windowTitle() == "Fixative":
            widget.cancel()


def _check_dialog() -> dict:
    """Build Fixative's export dialog, change format and strength as a user would, read back."""
    from fixative_krita.dialog import ExportDialog
    from fixative_krita.settings import KritaSettings

    dialog = ExportDialog(KritaSettings(), f"{RESULTS}/a.png", folder=False)
    dialog.format.setCurrentIndex(dialog.format.findData("jpeg"))
    dialog.strength.setCurrentIndex(dialog.strength.findData("high"))
    chosen = dialog.result_settings()
    state = {
        "quality_enabled": dialog.quality.isEnabled(),
        "alpha_enabled": dialog.alpha.isEnabled(),
    }
    dialog.close()
    return {
        "output_path": chosen.output_path,
        "fmt": chosen.fmt,
        "strength": chosen.strength,
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
            krita.action(step["action"]).trigger()
            canceller.stop()
            result["steps"].append(
                {
                    "name": step["name"],
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
