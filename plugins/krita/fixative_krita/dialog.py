"""The export dialog: output, format, strength, declarations and the format options."""

from __future__ import annotations

import dataclasses

from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
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

        self.python = QLineEdit(settings.external_python)
        self.python.setPlaceholderText("only if Fixative cannot run inside Krita")
        form.addRow("External Python:", self.python)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._format_changed()

    def _fmt(self) -> str:
        return self.format.currentData()

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
            declarations=self.declarations.isChecked(),
            jpeg_quality=self.quality.value(),
            png_alpha=self.alpha.isChecked(),
            external_python=self.python.text().strip(),
            **({"output_dir": output} if self._folder else {"output_path": output}),
        )
