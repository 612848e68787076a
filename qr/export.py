"""Batch export of posters: a ZIP of PNGs, or one print-ready PDF with one A5 poster a page.

Posters are CPU-bound, so they are rendered in a process pool and streamed back in order through a
small window of chunks: memory stays flat however many codes a city has, and each PNG is written
out (to the ZIP, or as a PDF page) as soon as its turn comes.

The PDF is written by a small streaming writer here rather than a library, because each poster
PNG can go into the PDF as it is: its IDAT stream is a zlib stream of PNG-filtered rows, which
PDF's FlateDecode with PNG predictors (/Predictor 15) reads directly. Nothing is decoded or
compressed again, the images stay lossless, and only the page offsets are kept until the end.
Pillow's PDF writer collects every page in memory first, stores palette images as uncompressed
hex and greyscale or RGB as JPEG; fpdf2 and reportlab also build the whole document in memory
and re-compress every image.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import struct
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from qr.render import PosterInfo, poster_png, resolve_font, warm_up

Progress = Callable[[int], None]

# A5 in PostScript points (1 pt = 1/72 in): 148 × 210 mm.
A5_POINTS = (148 / 25.4 * 72, 210 / 25.4 * 72)


@dataclass(frozen=True)
class RenderedPoster:
    """One poster as rendered by the pool, with the process that rendered it."""

    info: PosterInfo
    png: bytes
    pid: int


def _worker_start(font_path: str) -> None:
    # Load the font and draw the static parts once per process, before the first chunk arrives.
    warm_up(font_path)


def _render_chunk(infos: list[PosterInfo], font_path: str) -> tuple[int, list[bytes]]:
    return os.getpid(), [poster_png(info, font_path=font_path) for info in infos]


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver, not fork: the web and CLI processes may hold threads, sockets and locks that a
    # forked child would inherit half-way. Preloading the renderer into the server keeps worker
    # start-up cheap (importing qr pulls in the whole app).
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["qr.export"])
        return context
    return multiprocessing.get_context("spawn")


def iter_posters(
    infos: Sequence[PosterInfo], *, workers: int | None = None, font_path: str | None = None
) -> Iterator[RenderedPoster]:
    """Render posters in order, in `workers` processes (None: all cores), a few at a time."""
    path = resolve_font(font_path)  # fail here, before any process starts
    count = len(infos)
    workers = max(1, workers if workers is not None else os.cpu_count() or 1)
    # Chunks big enough to amortise the inter-process hop, small enough to share the work out.
    chunk = max(1, min(16, math.ceil(count / (workers * 8))))
    chunks = [list(infos[i : i + chunk]) for i in range(0, count, chunk)]
    workers = min(workers, len(chunks))
    if workers <= 1:
        pid = os.getpid()
        for info in infos:
            yield RenderedPoster(info, poster_png(info, font_path=path), pid)
        return

    window = workers * 2 + 1  # chunks in flight: keeps every worker busy, bounds memory
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=_pool_context(), initializer=_worker_start, initargs=(path,)
    )
    try:
        pending: deque[tuple[list[PosterInfo], Future[tuple[int, list[bytes]]]]] = deque()
        upcoming = iter(chunks)
        for part in upcoming:
            pending.append((part, pool.submit(_render_chunk, part, path)))
            if len(pending) >= window:
                break
        while pending:
            part, future = pending.popleft()
            pid, pngs = future.result()
            next_part = next(upcoming, None)
            if next_part is not None:
                pending.append((next_part, pool.submit(_render_chunk, next_part, path)))
            for info, png in zip(part, pngs, strict=True):
                yield RenderedPoster(info, png, pid)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _output(out: BinaryIO | str | Path) -> Iterator[BinaryIO]:
    """A binary stream for `out`; a path is written to a temp file and renamed when complete."""
    if not isinstance(out, str | Path):
        yield out
        return
    target = Path(out)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _zip_name(serial: str, used: set[str]) -> str:
    base = "".join(c if c.isalnum() or c in "-_." else "_" for c in serial) or "poster"
    name, n = f"{base}.png", 1
    while name in used:  # serials are unique in the database; never overwrite a member anyway
        n += 1
        name = f"{base}-{n}.png"
    used.add(name)
    return name


def export_zip(
    infos: Sequence[PosterInfo],
    out: BinaryIO | str | Path,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    font_path: str | None = None,
) -> int:
    """Write a ZIP with one poster PNG per code, named after its serial; returns the count."""
    done = 0
    used: set[str] = set()
    stamp = time.localtime()[:6]
    with _output(out) as fh, zipfile.ZipFile(fh, "w") as archive:
        for poster in iter_posters(infos, workers=workers, font_path=font_path):
            member = zipfile.ZipInfo(_zip_name(poster.info.serial, used), date_time=stamp)
            # Stored, not deflated: the PNGs are compressed already.
            archive.writestr(member, poster.png, compress_type=zipfile.ZIP_STORED)
            done += 1
            if progress is not None:
                progress(done)
    return done


# --- PDF -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PngImage:
    width: int
    height: int
    bits: int
    colour_space: bytes
    colours: int
    zdata: bytes


def _read_png(png: bytes) -> _PngImage:
    """The parts of a non-interlaced PNG without alpha that a PDF image needs."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, header, palette, idat = 8, None, b"", []
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, bits, colour_type, _, _, interlace = header
    if interlace:
        raise ValueError("interlaced PNG cannot be embedded as it is")
    if colour_type == 0:
        space, colours = b"/DeviceGray", 1
    elif colour_type == 2:
        space, colours = b"/DeviceRGB", 3
    elif colour_type == 3:
        space = b"[/Indexed /DeviceRGB %d <%s>]" % (len(palette) // 3 - 1, palette.hex().encode())
        colours = 1
    else:
        raise ValueError(f"PNG colour type {colour_type} (alpha) is not supported")
    return _PngImage(width, height, bits, space, colours, b"".join(idat))


def _pdf_text(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


class _PdfWriter:
    """A minimal PDF writer that streams one full-page image per page and keeps only offsets."""

    CATALOG, PAGES, INFO = 1, 2, 3

    def __init__(self, fh: BinaryIO, page_size: tuple[float, float]) -> None:
        self.fh = fh
        self.position = 0
        self.offsets: dict[int, int] = {}
        self.pages: list[int] = []
        self.next_id = 4
        self.box = b"[0 0 %.4f %.4f]" % page_size
        self.page_size = page_size
        # The comment of high bytes tells transfer tools that the file is binary.
        self._write(b"%PDF-1.6\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.fh.write(data)
        self.position += len(data)

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.position
        if stream is None:
            self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
            return
        self._write(b"%d 0 obj\n%s\nstream\n" % (number, body))
        self._write(stream)
        self._write(b"\nendstream\nendobj\n")

    def _allocate(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def add_png_page(self, png: bytes) -> None:
        """Append a page showing `png` over the whole page, its compressed data copied as is."""
        image = _read_png(png)
        image_id, content_id, page_id = self._allocate(), self._allocate(), self._allocate()
        self._object(
            image_id,
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace %s /BitsPerComponent %d /Filter /FlateDecode /DecodeParms "
            b"<< /Predictor 15 /Colors %d /BitsPerComponent %d /Columns %d >> "
            b"/Length %d >>"
            % (
                image.width,
                image.height,
                image.colour_space,
                image.bits,
                image.colours,
                image.bits,
                image.width,
                len(image.zdata),
            ),
            image.zdata,
        )
        content = b"q\n%.4f 0 0 %.4f 0 0 cm\n/Im0 Do\nQ\n" % self.page_size
        self._object(content_id, b"<< /Length %d >>" % len(content), content)
        self._object(
            page_id,
            b"<< /Type /Page /Parent %d 0 R /MediaBox %s /TrimBox %s "
            b"/Resources << /XObject << /Im0 %d 0 R >> /ProcSet [/PDF /ImageC /ImageI] "
            b">> /Contents %d 0 R >>" % (self.PAGES, self.box, self.box, image_id, content_id),
        )
        self.pages.append(page_id)

    def finish(self, title: str) -> None:
        """Write the page tree, catalogue, document info, cross-reference table and trailer."""
        kids = b" ".join(b"%d 0 R" % page for page in self.pages)
        self._object(
            self.PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.pages))
        )
        # PrintScaling /None asks viewers to print at 100 %, so the code keeps its size.
        self._object(
            self.CATALOG,
            b"<< /Type /Catalog /Pages %d 0 R "
            b"/ViewerPreferences << /PrintScaling /None >> >>" % self.PAGES,
        )
        created = time.strftime("D:%Y%m%d%H%M%SZ", time.gmtime()).encode()
        self._object(
            self.INFO,
            b"<< /Title %s /Producer (Pingyi) /Creator (Pingyi) "
            b"/CreationDate (%s) >>" % (_pdf_text(title), created),
        )
        xref_at = self.position
        size = self.next_id
        entries = [b"0000000000 65535 f \n"]
        for number in range(1, size):
            entries.append(b"%010d 00000 n \n" % self.offsets[number])
        self._write(b"xref\n0 %d\n%s" % (size, b"".join(entries)))
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, self.CATALOG, self.INFO, xref_at)
        )


def export_pdf(
    infos: Sequence[PosterInfo],
    out: BinaryIO | str | Path,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    font_path: str | None = None,
) -> int:
    """Write one PDF with an A5 page (148 × 210 mm) per poster, lossless; returns the count."""
    done = 0
    with _output(out) as fh:
        writer = _PdfWriter(fh, A5_POINTS)
        for poster in iter_posters(infos, workers=workers, font_path=font_path):
            writer.add_png_page(poster.png)
            done += 1
            if progress is not None:
                progress(done)
        writer.finish("评议二维码海报")
    return done
