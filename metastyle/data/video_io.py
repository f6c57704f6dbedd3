"""Video files in and out through ffmpeg (the binary bundled in ``imageio-ffmpeg``): probe, stream frames,
write H.264 atomically (a temporary file beside the output, renamed on success).

Pixel format: H.264 4:2:0 (``yuv420p``, what every player decodes) cannot code odd widths or heights (its
crop unit is 2 px). ``pix_fmt="auto"`` therefore writes yuv420p when both sides are even and yuv444p
(High 4:4:4, exact size kept) otherwise; ``pix_fmt="yuv420p"`` forces 4:2:0 by padding odd sides with one
replicated pixel (the output is then up to 1 px larger).
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from metastyle.errors import DataError, MetaStyleError
from metastyle.infra.files import atomic_paths

PIX_FMTS = ("auto", "yuv420p", "yuv444p")


class _RotationNote(logging.Filter):
    """imageio-ffmpeg logs a line for every rotated video (ffmpeg decodes it upright, at the rotated size,
    which ``probe``'s ``size`` reports): not a problem, so not a raw library line on the user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_RotationNote())


VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")  # containers that hold H.264


def _ffmpeg():
    import imageio_ffmpeg

    return imageio_ffmpeg


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else type(err).__name__)[:200]


def probe(path: str | Path) -> dict:
    """ffmpeg's metadata of a video: ``fps``, ``size`` (w, h), ``duration``, ``audio_codec`` (or absent)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such video: {path}")
    gen = _ffmpeg().read_frames(str(path))
    try:
        return next(gen)
    except (OSError, RuntimeError, StopIteration, ValueError) as err:
        streams = _streams(path)
        if streams and not any("Video:" in s for s in streams):
            kinds = sorted({s.split(":")[2].strip() for s in streams if s.count(":") >= 3})
            raise DataError(f"{path} has no video stream (only {', '.join(kinds) or 'other'} streams)") from None
        raise DataError(f"cannot read video {path}: {_first_line(err)}") from None
    finally:
        gen.close()


def _streams(path: Path) -> list[str]:
    """ffmpeg's ``Stream #...`` lines for ``path`` (empty if it cannot tell)."""
    try:
        res = subprocess.run([_ffmpeg().get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                             text=True, errors="replace", timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    return [ln.strip() for ln in res.stderr.splitlines() if ln.strip().startswith("Stream #")]


def _target_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(16, round(w * s)), max(16, round(h * s))


def read_frames(path: str | Path, max_side: int = 0, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Stream the frames of a video as ``(H, W, 3)`` uint8 RGB arrays (downsized to ``max_side`` if > 0, or
    resized to ``size`` (w, h) if given)."""
    import cv2

    meta = probe(path)
    w, h = meta["size"]
    tw, th = size or _target_size(w, h, max_side)
    gen = _ffmpeg().read_frames(str(path), pix_fmt="rgb24")
    try:
        next(gen)
        for raw in gen:
            frame = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
            yield frame if (tw, th) == (w, h) else cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA)
    except (OSError, RuntimeError) as err:
        raise DataError(f"cannot decode video {path}: {_first_line(err)}") from None
    finally:
        gen.close()


class FrameWriter:
    """Pipe ``(H, W, 3)`` uint8 frames to libx264 (see the module docstring for the pixel format)."""

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float, pix_fmt: str = "auto",
                 crf: int = 18):
        if pix_fmt not in PIX_FMTS:
            raise MetaStyleError(f"pix_fmt must be one of {', '.join(PIX_FMTS)}, got {pix_fmt!r}")
        w, h = size
        odd = (w % 2, h % 2)
        self.pad = odd if pix_fmt == "yuv420p" else (0, 0)
        out_fmt = pix_fmt if pix_fmt != "auto" else ("yuv420p" if odd == (0, 0) else "yuv444p")
        self.size = (w + self.pad[0], h + self.pad[1])
        self.error = ""
        self.log = tempfile.TemporaryFile()  # ffmpeg's stderr: its complaint becomes part of one error line
        self.gen = _ffmpeg().write_frames(
            str(path), self.size, fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out=out_fmt,
            macro_block_size=1, quality=None, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-preset", "medium"])
        with _stderr_to(self.log):
            self.gen.send(None)

    def ffmpeg_error(self) -> str:
        if self.log.closed:
            return self.error
        self.log.seek(0)
        lines = [ln.strip() for ln in self.log.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1][:200] if lines else ""

    def write(self, frame: np.ndarray) -> None:
        if any(self.pad):
            frame = np.pad(frame, ((0, self.pad[1]), (0, self.pad[0]), (0, 0)), mode="edge")
        self.gen.send(np.ascontiguousarray(frame))

    def close(self) -> str:
        """Finish the file; returns what ffmpeg reported (at log level ``error``: empty when all went well)."""
        try:
            self.gen.close()
            self.error = self.ffmpeg_error()
            return self.error
        finally:
            self.log.close()


@contextlib.contextmanager
def _stderr_to(file):
    """Point file descriptor 2 at ``file`` while a child process is started (it inherits it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def write_video(frames, path: str | Path, fps: float = 12.0, pix_fmt: str = "auto", *,
                shown_as: str | Path | None = None) -> Path:
    """Write an iterable of ``(H, W, 3)`` uint8 frames to an H.264 MP4, atomically. Writes: ``path``.

    An ffmpeg failure (full disk, a container that cannot hold H.264) is one ``MetaStyleError`` naming
    ``shown_as`` (default ``path``: the file the user asked for, not a temporary name)."""
    path = Path(path)
    with _atomic_video(path) as tmp:
        writer = None
        try:
            for frame in frames:
                if writer is None:
                    writer = FrameWriter(tmp, (frame.shape[1], frame.shape[0]), fps, pix_fmt)
                writer.write(frame)
            if writer is not None:
                failed = writer.close()
                if failed or not tmp.stat().st_size:
                    raise RuntimeError(failed or "ffmpeg wrote nothing")
        except (OSError, RuntimeError) as err:
            reason = (writer.ffmpeg_error() if writer is not None else "") or _first_line(err)
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            raise MetaStyleError(f"cannot write video {shown_as or path}: {reason}") from None
        except BaseException:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            raise
        if writer is None:
            raise DataError("no frames to write")
    return path


@contextlib.contextmanager
def _atomic_video(path: Path) -> Iterator[Path]:
    """Temporary file beside ``path`` with the same suffix (ffmpeg picks the container from it), named with the
    writer's pid as ``infra.files.atomic_path`` names them: one left by a killed writer is removed by the next
    write of ``path``. Renamed onto ``path`` (usual mode, not 0600) only if the block succeeds."""
    path = Path(path)
    with atomic_paths(path, suffix=path.suffix or ".mp4") as (tmp,):
        yield tmp


def _mux_audio(video: Path, source: Path, out: Path) -> None:
    """Copy ``video``'s stream and ``source``'s audio into ``out`` (audio copied, else re-encoded to AAC)."""
    exe = _ffmpeg().get_ffmpeg_exe()
    base = [exe, "-y", "-v", "error", "-i", str(video), "-i", str(source), "-map", "0:v:0", "-map", "1:a?",
            "-c:v", "copy", "-shortest"]
    for audio in (["-c:a", "copy"], ["-c:a", "aac", "-b:a", "192k"]):
        res = subprocess.run(base + audio + [str(out)], capture_output=True, text=True)
        if res.returncode == 0:
            return
    raise MetaStyleError(f"cannot copy the audio of {source}: {res.stderr.strip().splitlines()[-1:]}")
