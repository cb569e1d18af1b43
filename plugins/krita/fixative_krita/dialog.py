"""The export dialog: output, format, strength, mode, declarations and the format's options;
an Advanced section (external Python, the AI's view, thorough mode's steps); and a preview of
what the AI sees at the chosen settings.

Every choice and its explanation come from the core through `fixative_host.choices`, so Krita
says what the CLI, GIMP and Blender say.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from fixative.image.formats import QUALITY_RANGE
from fixative_host import HostError, RawImage, choices
from fixative_host import help as manual

from .qt import (
    QCheckBox,
    QComboBox,
    QDesktopServices,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QImage,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPixmap,
    QPushButton,
    QSpinBox,
    Qt,
    QToolButton,
    QUrl,
    QVBoxLayout,
    QWidget,
)
from .settings import KritaSettings

# Computes the preview sheet for the chosen settings; None when it was cancelled or failed
# (the caller has said why).
PreviewFunction = Callable[[KritaSettings], RawImage | None]

PREVIEW_WIDTH = 540  # the sheet (a column per model family, ~512 px panels) is scaled to this
PREVIEW_CAPTION = choices.PREVIEW_CAPTION
HELP_TOOLTIP = "Fixative's manual for Krita, in your web browser (installed with the plug-in)"
STALE_CAPTION = "The settings changed since this preview: preview again to see their effect."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]  # not capitalize(): keeps "CPU", "AI"


def format_help(fmt: str) -> str:
    """One line on what a format keeps, from the core's format table."""
    f = choices.format_of(fmt)
    parts = [
        "compressed with a quality setting (re-compression weakens the protection a little)"
        if f.lossy
        else "lossless: the protection is kept exactly",
        "keeps transparency" if f.alpha else "no transparency (flattened onto white)",
        "keeps 16 bits per channel" if f.sixteen else "8 bits per channel",
    ]
    return f"{f.label}: " + "; ".join(parts)


def raw_to_pixmap(raw: RawImage) -> QPixmap:
    """An 8-bit RGB RawImage (the preview sheet) as a QPixmap."""
    image = QImage(raw.data, raw.width, raw.height, 3 * raw.width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the QImage does not own raw.data


class ExportDialog(QDialog):
    """`folder=True` asks for a folder (Export All...), else for a file. `preview`, when given,
    computes the "what the AI sees" sheet of the current document."""

    def __init__(
        self,
        settings: KritaSettings,
        output: str,
        *,
        folder: bool,
        preview: PreviewFunction | None = None,
        parent=None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export All Protected" if folder else "Export Protected")
        self._folder = folder
        self._settings = settings
        self._preview = preview
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)

        self.output = QLineEdit(output)
        self.output.setMinimumWidth(420)
        self.output.textChanged.connect(self._output_changed)
        self.browse = QPushButton("Browse...")
        self.browse.setToolTip("Choose the folder" if folder else "Choose the file to write")
        self.browse.clicked.connect(self._browse)
        row = QWidget()
        row_layout = QHBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.addWidget(self.output)
        row_layout.addWidget(self.browse)
        form.addRow("Folder:" if folder else "File:", row)

        self.format = QComboBox()
        for key in choices.FORMAT_KEYS:
            self.format.addItem(choices.format_of(key).label, key)
            self.format.setItemData(
                self.format.count() - 1, format_help(key), Qt.ItemDataRole.ToolTipRole
            )
        self.format.setCurrentIndex(max(0, self.format.findData(settings.fmt)))
        self.format.currentIndexChanged.connect(self._format_changed)
        form.addRow("Format:", self.format)

        self.strength = QComboBox()
        for name in choices.STRENGTHS:
            self.strength.addItem(choices.strength_label(name), name)
            self.strength.setItemData(
                self.strength.count() - 1,
                _sentence(choices.strength_help(name)),
                Qt.ItemDataRole.ToolTipRole,
            )
        self.strength.setCurrentIndex(max(0, self.strength.findData(settings.strength)))
        self.strength_help = QLabel()
        self.strength_help.setWordWrap(True)
        self.strength.currentIndexChanged.connect(self._strength_changed)
        form.addRow("Strength:", self.strength)
        form.addRow("", self.strength_help)
        self.aimed_at = QLabel(choices.AIMED_AT)
        self.aimed_at.setWordWrap(True)
        form.addRow("", self.aimed_at)

        self.mode = QComboBox()
        for name in choices.MODES:
            self.mode.addItem(choices.mode_label(name), name)
            self.mode.setItemData(
                self.mode.count() - 1,
                _sentence(choices.mode_help(name)),
                Qt.ItemDataRole.ToolTipRole,
            )
        self.mode.setCurrentIndex(max(0, self.mode.findData(settings.mode)))
        self.mode_help = QLabel()
        self.mode_help.setWordWrap(True)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        form.addRow("Mode:", self.mode)
        form.addRow("", self.mode_help)

        self.declarations = QCheckBox(choices.DECLARE_LABEL)
        self.declarations.setToolTip(_sentence(choices.DECLARE_HELP) + ".")
        self.declarations.setChecked(settings.declarations)
        form.addRow("", self.declarations)

        self.quality = QSpinBox()
        self.quality.setRange(*QUALITY_RANGE)
        self.quality.setValue(settings.jpeg_quality)
        self.quality.setToolTip(
            "Compression quality of JPEG and WebP (1-100): higher keeps more detail and more "
            "of the protection, in a larger file"
        )
        form.addRow("Quality:", self.quality)

        self.alpha = QCheckBox("Keep transparency (alpha)")
        self.alpha.setToolTip(
            "Write the document's transparency; off, the picture is flattened onto white"
        )
        self.alpha.setChecked(settings.png_alpha)
        form.addRow("", self.alpha)

        # Advanced, folded away: what most artists never need to change.
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setToolTip("The external Python, the AI's view and the mode's steps")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.toggled.connect(self._advanced_toggled)
        layout.addWidget(self.advanced_toggle)
        self.advanced = QWidget()
        advanced = QFormLayout(self.advanced)

        self.python = QLineEdit(settings.external_python)
        self.python.setPlaceholderText("only if Fixative cannot run inside Krita")
        self.python.setToolTip(
            "A Python 3.10 or later with numpy, Pillow and onnxruntime installed, used when "
            "they cannot be loaded inside Krita (leave empty otherwise)"
        )
        advanced.addRow("External Python:", self.python)

        self.view = QComboBox()
        for name in choices.VIEWS:
            self.view.addItem(choices.view_label(name), name)
            self.view.setItemData(
                self.view.count() - 1,
                _sentence(choices.view_help(name)),
                Qt.ItemDataRole.ToolTipRole,
            )
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
        self.steps.setToolTip(
            "Gradient steps of the fast and thorough modes: more is stronger and slower; each "
            "takes a similar time"
        )
        advanced.addRow("Steps:", self.steps)
        self.advanced.setVisible(False)
        layout.addWidget(self.advanced)

        self.preview_button = QPushButton("Preview what the AI sees")
        self.preview_button.setToolTip(
            "Protect the current document in memory with these settings (nothing is written) "
            "and show how an AI model's encoder reconstructs the original and the protected copy"
        )
        self.preview_button.clicked.connect(self._show_preview)
        self.preview_button.setVisible(preview is not None)
        layout.addWidget(self.preview_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.preview_image = QLabel()
        self.preview_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_image.setToolTip(PREVIEW_CAPTION)
        self.preview_image.setVisible(False)
        layout.addWidget(self.preview_image)
        self.preview_caption = QLabel(PREVIEW_CAPTION)
        self.preview_caption.setWordWrap(True)
        self.preview_caption.setVisible(False)
        layout.addWidget(self.preview_caption)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Help
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.help_button = buttons.button(QDialogButtonBox.StandardButton.Help)
        self.help_button.setToolTip(HELP_TOOLTIP)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.helpRequested.connect(self._help)
        layout.addWidget(buttons)

        for combo in (self.strength, self.mode, self.view):
            combo.currentIndexChanged.connect(self._preview_stale)
        self.format.currentIndexChanged.connect(self._preview_stale)
        self.steps.valueChanged.connect(self._preview_stale)
        self._format_changed()
        self._strength_changed()
        self._mode_changed()
        self._output_changed(self.output.text())

    def _fmt(self) -> str:
        return self.format.currentData()

    def _strength_changed(self) -> None:
        self.strength_help.setText(choices.strength_line(self.strength.currentData()))
        self.strength.setToolTip(self.strength_help.text())

    def _mode_changed(self) -> None:
        mode = self.mode.currentData()
        self.mode_help.setText(choices.mode_line(mode))  # with the time it takes
        self.mode.setToolTip(self.mode_help.text())
        self.steps.setEnabled(choices.takes_steps(mode))
        self.steps.setSpecialValueText(choices.default_steps_text(mode))  # shown for 0

    def _advanced_toggled(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self.adjustSize()

    def _format_changed(self) -> None:
        fmt = choices.format_of(self._fmt())
        self.format.setToolTip(format_help(fmt.key))
        self.quality.setEnabled(fmt.lossy)
        # A format without alpha is always flattened: nothing to choose.
        self.alpha.setVisible(fmt.alpha)
        text = self.output.text()
        root, ext = os.path.splitext(text)
        if not self._folder and ext and ext.lower() not in fmt.extensions:
            self.output.setText(root + fmt.extension)

    def _output_changed(self, text: str) -> None:
        # The name is what matters: keep its end in view and the whole path in the tooltip.
        self.output.setToolTip(text or "Next to the document")
        if not self.output.hasFocus():
            self.output.setCursorPosition(len(text))

    def _browse(self) -> None:
        if self._folder:
            chosen = QFileDialog.getExistingDirectory(self, "Export into", self.output.text())
        else:
            fmt = choices.format_of(self._fmt())
            pattern = f"{fmt.label} ({' '.join('*' + ext for ext in fmt.extensions)})"
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export Protected", self.output.text(), pattern
            )
        if chosen:
            self.output.setText(chosen)

    def _show_preview(self) -> None:
        if self._preview is None:
            return
        self.preview_button.setEnabled(False)
        try:
            sheet = self._preview(self.result_settings())
        finally:
            self.preview_button.setEnabled(True)
        if sheet is None:
            return
        pixmap = raw_to_pixmap(sheet)
        if pixmap.width() > PREVIEW_WIDTH:
            pixmap = pixmap.scaledToWidth(PREVIEW_WIDTH, Qt.TransformationMode.SmoothTransformation)
        self.preview_image.setPixmap(pixmap)
        self.preview_image.setMinimumSize(pixmap.size())  # never cropped: the headings are on top
        self.preview_image.setVisible(True)
        self.preview_caption.setText(PREVIEW_CAPTION)
        self.preview_caption.setVisible(True)
        # adjustSize() caps a window at 2/3 of the screen, which squeezed the rows over each
        # other; the layout's own size hint is what the sheet and its captions need.
        self.resize(self.sizeHint().expandedTo(self.size()))

    def _help(self) -> None:
        """Fixative's page for Krita, from the copy inside the plug-in, in the web browser."""
        try:
            link = manual.url("krita")
        except HostError as exc:
            QMessageBox.warning(self, "Fixative", str(exc))
            return
        if not QDesktopServices.openUrl(QUrl(link)):
            QMessageBox.warning(self, "Fixative", f"Could not open a web browser for {link}")

    def _preview_stale(self) -> None:
        if self.preview_image.isVisible():
            self.preview_caption.setText(STALE_CAPTION)

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
