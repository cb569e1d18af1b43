"""The export dialog: output, format, strength, mode, declarations, the format options and an
Advanced section (the AI's view, thorough mode's steps, the external Python)."""

from __future__ import annotations

import dataclasses

from fixative_host import choices
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from .settings import EXTENSIONS, FORMATS, STRENGTHS, KritaSettings


class ExportDialog(QDialog):
    """`folder=True` asks for a folder (Export All...), else for a file."""

    def __init__(self, settings: KritaSettings, output: str, *, folder: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export All Protected" if folder else "Export Protected")
        self._folder = folder
        self._settings = settings
        form = QFormLayout(self)

        self.output = QLineEdit(output)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QWidget()
        row_layout = QHBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.addWidget(self.output)
        row_layout.addWidget(browse)
        form.addRow("Folder:" if folder else "File:", row)

        self.format = QComboBox()
        for key, label in FORMATS.items():
            self.format.addItem(label, key)
        self.format.setCurrentIndex(list(FORMATS).index(settings.fmt))
        self.format.currentIndexChanged.connect(self._format_changed)
        form.addRow("Format:", self.format)

        self.strength = QComboBox()
        for name in STRENGTHS:
            self.strength.addItem(name.capitalize(), name)
        self.strength.setCurrentIndex(STRENGTHS.index(settings.strength))
        form.addRow("Strength:", self.strength)

        self.mode = QComboBox()
        for name in choices.MODES:
            self.mode.addItem(choices.mode_label(name), name)
            self.mode.setItemData(self.mode.count() - 1, choices.mode_help(name), Qt.ToolTipRole)
        self.mode.setCurrentIndex(max(0, self.mode.findData(settings.mode)))
        self.mode_help = QLabel()
        self.mode_help.setWordWrap(True)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        form.addRow("Mode:", self.mode)
        form.addRow("", self.mode_help)

        self.declarations = QCheckBox('Declare "no AI training" (IPTC/XMP)')
        self.declarations.setChecked(settings.declarations)
        form.addRow("", self.declarations)

        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(settings.jpeg_quality)
        form.addRow("JPEG/WebP quality:", self.quality)

        self.alpha = QCheckBox("Store alpha channel (transparency)")
        self.alpha.setChecked(settings.png_alpha)
        form.addRow("PNG:", self.alpha)

        # Advanced, folded away: the AI's view, thorough mode's steps, the external Python.
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.RightArrow)
        self.advanced_toggle.toggled.connect(self._advanced_toggled)
        form.addRow(self.advanced_toggle)
        self.advanced = QWidget()
        advanced = QFormLayout(self.advanced)
        advanced.setContentsMargins(0, 0, 0, 0)

        self.view = QComboBox()
        for name in choices.VIEWS:
            self.view.addItem(choices.view_label(name), name)
        if self.view.findData(settings.view) < 0:  # an explicit side set by hand: kept
            self.view.addItem(choices.view_label(settings.view), settings.view)
        self.view.setCurrentIndex(self.view.findData(settings.view))
        self.view.setToolTip(
            "The size the protection is computed at: AI models read pictures at about 1 MP"
        )
        advanced.addRow("AI's view:", self.view)

        self.steps = QSpinBox()
        self.steps.setRange(0, choices.MAX_STEPS)
        self.steps.setSpecialValueText(choices.DEFAULT_STEPS_TEXT)  # shown for 0
        self.steps.setValue(settings.steps)
        advanced.addRow("Thorough steps:", self.steps)

        self.python = QLineEdit(settings.external_python)
        self.python.setPlaceholderText("only if Fixative cannot run inside Krita")
        advanced.addRow("External Python:", self.python)
        self.advanced.setVisible(False)
        form.addRow(self.advanced)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._format_changed()
        self._mode_changed()

    def _fmt(self) -> str:
        return self.format.currentData()

    def _mode_changed(self) -> None:
        mode = self.mode.currentData()
        text = choices.mode_help(mode)
        self.mode_help.setText(text[:1].upper() + text[1:])  # not capitalize(): keeps "CPU"
        self.steps.setEnabled(mode == choices.THOROUGH)

    def _advanced_toggled(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)
        self.adjustSize()

    def _format_changed(self) -> None:
        fmt = self._fmt()
        self.quality.setEnabled(fmt in ("jpeg", "webp"))
        self.alpha.setEnabled(fmt == "png")
        text = self.output.text()
        if not self._folder and "." in text.rsplit("/", 1)[-1]:
            self.output.setText(text.rsplit(".", 1)[0] + "." + EXTENSIONS[fmt])

    def _browse(self) -> None:
        if self._folder:
            chosen = QFileDialog.getExistingDirectory(self, "Export into", self.output.text())
        else:
            label = FORMATS[self._fmt()]
            pattern = f"{label} (*.{EXTENSIONS[self._fmt()]})"
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export Protected", self.output.text(), pattern
            )
        if chosen:
            self.output.setText(chosen)

    def result_settings(self) -> KritaSettings:
        output = self.output.text().strip()
        return dataclasses.replace(
            self._settings,
            fmt=self._fmt(),
            strength=self.strength.currentData(),
            mode=self.mode.currentData(),
            view=self.view.currentData(),
            steps=self.steps.value(),
            declarations=self.declarations.isChecked(),
            jpeg_quality=self.quality.value(),
            png_alpha=self.alpha.isChecked(),
            external_python=self.python.text().strip(),
            **({"output_dir": output} if self._folder else {"output_path": output}),
        )
