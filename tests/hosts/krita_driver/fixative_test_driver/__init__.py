"""A pykrita plug-in that drives the Fixative plug-in inside the real Krita GUI (tests only).

When the main window exists it opens the documents listed in /results/krita-spec.json,
runs each step (write Fixative's settings, trigger one of its actions on a document),
records what happened in /results/krita-result.json, then quits Krita through File > Quit.

Steps run in Fixative's non-interactive mode, except a step with "interactive": there the
real dialogs open and `_Artist` plays the user in them (controls, preview, Export, the
success message), taking screenshots with Qt. With "menu_shot" in the spec, the File menu
is opened and grabbed from the screen once the steps are done.
"""

import hashlib
import json
import os
import time
import traceback

from krita import Extension, Krita

try:  # Krita 6 runs Qt 6 and refuses PyQt5; Krita 5 refuses PyQt6
    from PyQt6.QtCore import QEventLoop, QTimer
    from PyQt6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QTextEdit
except ImportError:
    from PyQt5.QtCore import QEventLoop, QTimer
    from PyQt5.QtWidgets import QApplication, QMessageBox, QProgressDialog, QTextEdit

RESULTS = "/results"
LOG = f"{RESULTS}/fixative-log.jsonl"
# The dialog's controls, each of which must explain itself in a tooltip.
CONTROLS = (
    "output",
    "browse",
    "format",
    "strength",
    "mode",
    "declarations",
    "quality",
    "alpha",
    "advanced_toggle",
    "python",
    "view",
    "steps",
    "preview_button",
    "help_button",
)


def _log_lines() -> list:
    try:
        with open(LOG, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def _digest(doc) -> str:
    return hashlib.sha256(bytes(doc.pixelData(0, 0, doc.width(), doc.height()))).hexdigest()


def _activate(krita, window, view, seconds: float = 10.0) -> bool:
    """Make `view` the active one; True when Krita's active document is then its document.

    Krita switches the active view through queued events: on a loaded machine one
    processEvents() is not always enough, so this waits (up to `seconds`) for the switch.
    """
    view.setVisible()
    window.showView(view)
    deadline = time.monotonic() + seconds
    while True:
        QApplication.processEvents()
        active = krita.activeDocument()
        if active is not None and active.fileName() == view.document().fileName():
            return True
        if time.monotonic() > deadline:
            return False
        _wait(50)


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


def _wait(ms: int) -> None:
    """Let Qt run for `ms` milliseconds (menus open, widgets paint)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _options_per_format(dialog) -> dict:
    """For each format: (quality enabled, alpha option shown), as the artist would see them."""
    seen = {}
    for index in range(dialog.format.count()):
        dialog.format.setCurrentIndex(index)
        seen[dialog.format.itemData(index)] = [
            dialog.quality.isEnabled(),
            dialog.alpha.isVisibleTo(dialog),
        ]
    return seen


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
        "strength": dialog.strength.currentData(),
        "strength_help": dialog.strength_help.text(),
        "declare": dialog.declarations.text(),
        "views": [dialog.view.itemData(i) for i in range(dialog.view.count())],
        "view_labels": [dialog.view.itemText(i) for i in range(dialog.view.count())],
        "steps_text": dialog.steps.text(),
        "advanced_visible": dialog.advanced.isVisible(),
        "preview_offered": dialog.preview_button.isVisibleTo(dialog),  # no document given
    }
    dialog.format.setCurrentIndex(dialog.format.findData("jpeg"))
    dialog.strength.setCurrentIndex(dialog.strength.findData("high"))
    high_help = dialog.strength_help.text()
    dialog.mode.setCurrentIndex(dialog.mode.findData("generator"))
    steps_enabled_generator = dialog.steps.isEnabled()
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
        "alpha_enabled": dialog.alpha.isVisibleTo(dialog),
        "high_help": high_help,
        "fast_help": fast_help,
        "steps_enabled_when_fast": steps_enabled,
        "steps_enabled_when_generator": steps_enabled_generator,
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


class _Artist:
    """Plays the user in Fixative's real dialogs, from a timer that fires whenever Qt runs
    (inside the dialog's exec(), the preview's and the export's progress callbacks).

    Any message box is read and closed at once, so an unexpected one cannot hang Krita. The
    export dialog is driven once: its tooltips and layout read, the format options checked,
    the preview shown and grabbed as a screenshot, then Export pressed.
    """

    def __init__(self, plan: dict) -> None:
        self.plan = plan
        self.record: dict = {"messages": []}
        self.dialog_done = False
        self.busy = False
        self.timer = QTimer()
        self.timer.timeout.connect(self._poll)
        self.timer.start(50)

    def _poll(self) -> None:
        try:
            for box in QApplication.topLevelWidgets():
                if isinstance(box, QMessageBox) and box.isVisible():
                    self.record["messages"].append(box.text())
                    if len(self.record["messages"]) == 1:
                        box.grab().save(f"{RESULTS}/krita-message.png")
                    box.done(0)
                elif type(box).__name__ == "ExceptHookDialog" and box.isVisible():
                    # Krita's dialog for an exception that escaped into Qt: a bug, recorded.
                    texts = [w.toPlainText() for w in box.findChildren(QTextEdit)]
                    self.record.setdefault("exceptions", []).append("\n".join(texts))
                    box.done(0)
            if self.busy or self.dialog_done:
                return
            from fixative_krita.dialog import ExportDialog

            dialogs = [
                w
                for w in QApplication.topLevelWidgets()
                if isinstance(w, ExportDialog) and w.isVisible()
            ]
            if dialogs:
                self.busy = True  # the preview lets Qt run: this timer fires inside it
                self.dialog_done = True
                try:
                    self._drive(dialogs[0])
                finally:
                    self.busy = False
        except Exception:
            self.record.setdefault("exceptions", []).append(traceback.format_exc())
            for w in QApplication.topLevelWidgets():
                if w.isModal() and w.isVisible():
                    w.close()

    def _drive(self, dialog) -> None:
        rec = self.record
        rec["tooltips"] = {name: getattr(dialog, name).toolTip() for name in CONTROLS}
        rec["in_advanced"] = [
            name for name in CONTROLS if dialog.advanced.isAncestorOf(getattr(dialog, name))
        ]
        rec["output_text"] = dialog.output.text()
        rec["output_shows_end"] = dialog.output.cursorPosition() == len(dialog.output.text())
        rec["options"] = _options_per_format(dialog)
        dialog.format.setCurrentIndex(dialog.format.findData(self.plan.get("fmt", "png")))
        dialog.mode.setCurrentIndex(dialog.mode.findData("fast"))  # the preview in seconds
        rec["strength_help"] = dialog.strength_help.text()
        rec["mode_help"] = dialog.mode_help.text()
        dialog.preview_button.click()  # runs the preview, with its progress dialog
        _wait(300)
        pixmap = dialog.preview_image.pixmap()
        rec["preview"] = {
            "shown": dialog.preview_image.isVisible(),
            "width": pixmap.width() if pixmap is not None else 0,
            "height": pixmap.height() if pixmap is not None else 0,
            "caption": dialog.preview_caption.text(),
        }
        if pixmap is not None:
            pixmap.save(f"{RESULTS}/krita-preview-sheet.png")
        rec["labels"] = [w.text() for w in dialog.findChildren(type(dialog.strength_help))]
        dialog.grab().save(f"{RESULTS}/krita-dialog.png")
        rec["dialog_size"] = [dialog.width(), dialog.height()]
        dialog.strength.setCurrentIndex(dialog.strength.findData("high"))
        rec["caption_after_change"] = dialog.preview_caption.text()
        dialog.strength.setCurrentIndex(dialog.strength.findData("medium"))
        dialog.help_button.click()  # the manual opens in the browser (the test's recorder)
        _wait(500)
        dialog.accept()  # Export


def _grab_menu(window, file_action, file_menu) -> dict:
    """Open File as a click would, highlight Export Protected..., grab that part of the screen."""
    bar = window.qwindow().menuBar()
    bar.setActiveAction(file_action)
    _wait(500)
    if not file_menu.isVisible():
        file_menu.popup(bar.mapToGlobal(bar.actionGeometry(file_action).bottomLeft()))
        _wait(500)
    ours = [a for a in file_menu.actions() if a.objectName() == "fixative_export_protected"]
    if ours:
        file_menu.setActiveAction(ours[0])
        _wait(300)
    geometry = file_menu.geometry()
    corner = bar.mapToGlobal(bar.rect().topLeft())
    x, y = max(0, corner.x()), max(0, corner.y())
    width = geometry.right() + 240 - x
    height = geometry.bottom() + 24 - y
    QApplication.primaryScreen().grabWindow(0, x, y, width, height).save(
        f"{RESULTS}/krita-menu.png"
    )
    shown = {
        "visible": file_menu.isVisible(),
        "texts": [a.text() for a in file_menu.actions() if not a.isSeparator()],
    }
    file_menu.hide()
    bar.setActiveAction(None)
    _wait(200)
    return shown


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
        file_action = next(a for a in menu.actions() if a.objectName() == "file")
        file_menu = file_action.menu()
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
            artist = None
            if "interactive" in step:
                artist = _Artist(step["interactive"])
                os.environ.pop("FIXATIVE_KRITA_NONINTERACTIVE", None)
            try:
                krita.action(step["action"]).trigger()
            finally:
                os.environ["FIXATIVE_KRITA_NONINTERACTIVE"] = "1"
                if artist is not None:
                    artist.timer.stop()
            canceller.stop()
            watcher.timer.stop()
            result["steps"].append(
                {
                    "name": step["name"],
                    "artist": artist.record if artist is not None else None,
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
        # After the documents opened: the entries are still where they were placed.
        result["file_menu_after"] = [a.objectName() for a in file_menu.actions()]
        if spec.get("menu_shot"):
            result["menu_shot"] = _grab_menu(window, file_action, file_menu)
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
