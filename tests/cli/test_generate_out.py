"""`mediagen generate --out`: checked before any work, written atomically, never through a
planted link, folders created only when asked."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.support.cli import mediagen

ARGS = ("generate", "a lighthouse", "--size", "64x64", "--quality", "fast")


def no_traceback(result) -> bool:  # type: ignore[no-untyped-def]
    return "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2


def test_bad_targets_are_one_line_errors_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    folder = mediagen(tmp_path, *ARGS, "--out", "folder")
    assert folder.returncode == 2 and "is a folder" in folder.stderr and no_traceback(folder)

    long = mediagen(tmp_path, *ARGS, "--out", "x" * 296 + ".png")
    assert long.returncode == 2 and no_traceback(long)
    assert "file name is 300 bytes long; this file system allows 255" in long.stderr

    missing = mediagen(tmp_path, *ARGS, "--out", "new/deeper/a.png")
    assert missing.returncode == 2 and no_traceback(missing)
    assert "does not exist (add --parents to create it)" in missing.stderr
    assert not (tmp_path / "new").exists()  # nothing created

    made = mediagen(tmp_path, *ARGS, "--out", "new/deeper/a.png", "--parents")
    assert made.returncode == 0, made.stderr
    with Image.open(tmp_path / "new/deeper/a.png") as image:
        assert image.size == (64, 64)


def test_a_planted_link_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / ".a.png.part").symlink_to(victim)  # the old fixed temp name
    (tmp_path / "b.png").symlink_to(victim)  # the target itself

    for name in ("a.png", "b.png"):
        result = mediagen(tmp_path, *ARGS, "--out", name)
        assert result.returncode == 0, result.stderr
        out = tmp_path / name
        assert not out.is_symlink()
        with Image.open(out) as image:
            assert image.format == "PNG"
    assert victim.read_text() == "precious"
    assert not list(tmp_path.glob(".mediagen-*.part"))  # no temp file left behind
