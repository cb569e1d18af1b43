"""What the AI sees, for Export Protected...: the sheet from the host glue, shown by GIMP.

The sheet (original | protected | the AI's reconstruction of each, about 512 px a panel) is
`fixative_host.preview.run_preview`'s; nothing here protects. It is shown two ways: in a
window over the dialog, on request (the dialog's button; GimpUi's ProcedureDialog cannot
embed a live image, but its content area takes a plain Gtk button), and, for scripts, as a new
GIMP image (the procedure's `preview` argument).
"""

from __future__ import annotations

from collections.abc import Callable

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gtk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from fixative_host import HostCancelled, HostError, RawImage, choices  # noqa: E402
from fixative_host.preview import run_preview  # noqa: E402
from gi.repository import GdkPixbuf, Gimp, GLib, Gtk  # noqa: E402

from . import bridge, settings  # noqa: E402
from .formats import FORMATS  # noqa: E402

TITLE = "What the AI sees"
EXPLANATION = choices.PREVIEW_CAPTION
BUTTON = "Preview what the _AI sees"
MAX_SHOWN_WIDTH = 1200  # the window's image is scaled down to fit a screen; the sheet is not

Progress = Callable[[float, str], None]


def sheet(
    image: Gimp.Image,
    config: Gimp.ProcedureConfig,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RawImage:
    """The sheet for `image` protected with the config's settings, flattened as the chosen
    format would be. Raises HostError (or HostCancelled) with a message to show."""
    bridge.refuse_unsupported(image, image.get_name() or "the image")
    fmt = FORMATS[config.get_property("format")]
    return run_preview(
        bridge.read_merged(image),
        settings.protect_settings(config),
        python=settings.python(config),
        external=settings.external(),
        progress=progress,
        cancel=cancel,
        keep_alpha=fmt.core.alpha,
    )


def as_image(raw: RawImage) -> Gimp.Image:
    return bridge.image_from_raw(raw, TITLE)


def pixbuf(raw: RawImage, max_width: int = MAX_SHOWN_WIDTH) -> GdkPixbuf.Pixbuf:
    full = GdkPixbuf.Pixbuf.new_from_bytes(
        GLib.Bytes.new(raw.data),
        GdkPixbuf.Colorspace.RGB,
        False,
        8,
        raw.width,
        raw.height,
        raw.width * 3,
    )
    if raw.width <= max_width:
        return full
    height = max(1, round(raw.height * max_width / raw.width))
    return full.scale_simple(max_width, height, GdkPixbuf.InterpType.BILINEAR)


def _pump() -> None:
    while Gtk.events_pending():
        Gtk.main_iteration()


def show_window(parent: Gtk.Window, image: Gimp.Image, config: Gimp.ProcedureConfig) -> Gtk.Window:
    """Compute the sheet with the dialog's current settings and show it in a window over the
    dialog; a progress bar meanwhile. Closing the window cancels the computation."""
    window = Gtk.Window(title=TITLE, transient_for=parent, destroy_with_parent=True)
    window.set_border_width(12)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8)
    window.add(box)
    note = Gtk.Label(label=EXPLANATION, xalign=0.0, wrap=True, max_width_chars=90)
    box.pack_start(note, False, False, 0)
    bar = Gtk.ProgressBar(show_text=True)
    box.pack_start(bar, False, False, 0)
    closed = []
    window.connect("destroy", lambda *_: closed.append(True))
    window.show_all()
    _pump()

    def progress(fraction: float, message: str) -> None:
        bar.set_fraction(max(0.0, min(1.0, fraction)))
        bar.set_text(message or "Protecting...")
        _pump()  # keeps the window drawn and its close button alive

    try:
        raw = sheet(image, config, progress, cancel=lambda: bool(closed))
    except HostCancelled:
        return window
    except HostError as exc:  # shown where the sheet would be, as is
        shown: Gtk.Widget = Gtk.Label(label=str(exc), xalign=0.0, wrap=True, selectable=True)
    else:
        shown = Gtk.Image.new_from_pixbuf(pixbuf(raw))
    if closed:
        return window
    bar.destroy()
    box.pack_start(shown, False, False, 0)
    window.show_all()
    return window
