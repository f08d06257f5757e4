"""Hostile and honest archives through model_cards.archives.extract_archive."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest

from boas.registry.artifacts.archive_scan import ArchiveLimits, ExtractedFile, _Entry, _Scan
from boas.registry.artifacts.archives import _copy, extract_archive
from registry_db.errors import BoasError, TooLarge, ValidationFailed

SMALL = ArchiveLimits(max_total_bytes=10_000_000, max_ratio=100)


def _zip(
    path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression=zipfile.ZIP_DEFLATED
) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names, which some tests want
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _tarinfo(name: str, type_: bytes = tarfile.REGTYPE, **attrs) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type_
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _rejected(exc: pytest.ExceptionInfo, cls: type[BoasError], status: int, needle: str, dest: Path) -> None:
    """Every rejection: right type and status, names the offender, leaves nothing on disk."""
    err = exc.value
    assert isinstance(err, cls)
    assert err.status == status
    assert needle in err.message
    assert any(needle in msg for msg in err.errors["model"])
    assert not dest.exists()


def _patch(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))


def _set_u32(path: Path, signature: bytes, offset: int, value: int) -> None:
    """Overwrite a 4-byte little-endian field in every zip header with the given signature."""
    data = bytearray(path.read_bytes())
    start = data.find(signature)
    while start != -1:
        data[start + offset : start + offset + 4] = value.to_bytes(4, "little")
        start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


def _model_dir(root: Path) -> Path:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"age": [30.0, 45.0, 60.0, 72.0], "bmi": [21.0, 27.5, 31.0, 24.0]})
    model = LogisticRegression().fit(X, [0, 1, 1, 0])
    path = root / "my_model"
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(X, model.predict(X)), serialization_format="cloudpickle"
    )
    return path


def _expected(model_dir: Path) -> list[ExtractedFile]:
    files = sorted(p for p in model_dir.rglob("*") if p.is_file())
    return [
        ExtractedFile(
            p.relative_to(model_dir).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size
        )
        for p in files
    ]


# --- honest archives ---------------------------------------------------------------------


def test_mlflow_model_zipped_with_top_level_folder_is_stripped_and_hashed(tmp_path):
    model_dir = _model_dir(tmp_path)
    archive = _zip(
        tmp_path / "m.zip",
        [(f"my_model/{f.path}", (model_dir / f.path).read_bytes()) for f in _expected(model_dir)],
    )
    out = extract_archive(archive, tmp_path / "out", ArchiveLimits())
    assert out == _expected(model_dir)
    assert (tmp_path / "out" / "MLmodel").is_file()
    assert not (tmp_path / "out" / "my_model").exists()


def test_mlflow_model_zipped_flat_extracts_with_same_digests(tmp_path):
    model_dir = _model_dir(tmp_path)
    archive = _zip(
        tmp_path / "m.zip", [(f.path, (model_dir / f.path).read_bytes()) for f in _expected(model_dir)]
    )
    out = extract_archive(archive, tmp_path / "out", ArchiveLimits())
    assert out == _expected(model_dir)
    for f in out:
        assert hashlib.sha256((tmp_path / "out" / f.path).read_bytes()).hexdigest() == f.sha256


def test_mlflow_model_as_tar_gz_folder_extracts_with_same_digests(tmp_path):
    model_dir = _model_dir(tmp_path)
    with tarfile.open(tmp_path / "m.tar.gz", "w:gz") as tf:
        tf.add(model_dir, arcname="my_model")
    out = extract_archive(tmp_path / "m.tar.gz", tmp_path / "out", ArchiveLimits())
    assert out == _expected(model_dir)


def test_plain_tar_made_with_dot_prefix_extracts_at_root(tmp_path):
    model_dir = _model_dir(tmp_path)
    with tarfile.open(tmp_path / "m.tar", "w") as tf:
        tf.add(model_dir, arcname=".")
    out = extract_archive(tmp_path / "m.tar", tmp_path / "out", ArchiveLimits())
    assert out == _expected(model_dir)


def test_format_comes_from_magic_bytes_not_the_name(tmp_path):
    archive = _zip(tmp_path / "model.tar.gz", [("MLmodel", b"flavors: {}\n")])
    out = extract_archive(archive, tmp_path / "out", ArchiveLimits())
    assert [f.path for f in out] == ["MLmodel"]


def test_nested_directories_are_kept_and_two_roots_are_not_stripped(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("a/x.json", b"{}"), ("b/", b""), ("b/c/y.txt", b"y")])
    out = extract_archive(archive, tmp_path / "out", ArchiveLimits())
    assert [f.path for f in out] == ["a/x.json", "b/c/y.txt"]
    assert out[0] == ExtractedFile("a/x.json", hashlib.sha256(b"{}").hexdigest(), 2)


def test_archive_permissions_and_owners_are_never_applied(tmp_path):
    info = zipfile.ZipInfo("run.sh")
    info.external_attr = (stat.S_IFREG | stat.S_ISUID | 0o777) << 16
    folder = zipfile.ZipInfo("sub/")
    folder.external_attr = (stat.S_IFDIR | 0o777) << 16
    archive = _zip(tmp_path / "m.zip", [(info, b"#!/bin/sh\n"), (folder, b""), ("sub/a", b"a")])
    extract_archive(archive, tmp_path / "out", ArchiveLimits())
    assert stat.S_IMODE((tmp_path / "out" / "run.sh").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out" / "sub").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_small_very_compressible_file_is_below_the_ratio_floor(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("zeros.json", b"0" * 500_000)])
    out = extract_archive(archive, tmp_path / "out", SMALL)
    assert out[0].size == 500_000


# --- hostile names and types --------------------------------------------------------------


def test_zip_with_parent_traversal_is_rejected_and_leaves_nothing(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("MLmodel", b"x"), ("../evil", b"x")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'../evil' escapes the model directory", dest)
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("/abs/x", "is an absolute path"),
        ("C:/x", "is an absolute path"),
        ("C:\\x", "contains a backslash"),
        ("a\\b", "contains a backslash"),
        ("a/../../x", "escapes the model directory"),
        ("a/\nb", "control character"),
        ("a/" + "n" * 300, "longer than 255 bytes"),
    ],
)
def test_zip_with_hostile_name_is_rejected_naming_entry_and_rule(tmp_path, name, rule):
    archive = _zip(tmp_path / "m.zip", [("MLmodel", b"x"), (name, b"x")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, f"archive entry {name!r}", dest)
    assert rule in exc.value.message


def test_zip_name_with_nul_byte_is_rejected(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("MLmodel", b"x"), ("evilQ.pkl", b"x")])
    _patch(archive, b"evilQ.pkl", b"evil\x00.pkl")
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "NUL byte", dest)
    assert "evil\\x00.pkl" in exc.value.message


def test_zip_symlink_entry_is_rejected_and_leaves_nothing(tmp_path):
    link = zipfile.ZipInfo("MLmodel")
    link.external_attr = 0o120777 << 16
    archive = _zip(tmp_path / "m.zip", [("model.pkl", b"x"), (link, b"/etc/passwd")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'MLmodel' is a symbolic link", dest)


def test_zip_device_entry_is_rejected(tmp_path):
    dev = zipfile.ZipInfo("dev")
    dev.external_attr = (stat.S_IFCHR | 0o666) << 16
    archive = _zip(tmp_path / "m.zip", [("a", b"x"), (dev, b"")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'dev' is not a regular file or directory", dest)


def test_encrypted_zip_entry_is_rejected(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("secret.pkl", b"x" * 100)])
    data = bytearray(archive.read_bytes())
    for sig, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        data[pos + flag_offset] |= 0x1
    archive.write_bytes(bytes(data))
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'secret.pkl' is encrypted", dest)


def test_zip_with_bzip2_compression_is_rejected(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("model.pkl", b"x" * 100)], compression=zipfile.ZIP_BZIP2)
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'model.pkl' uses unsupported compression method", dest)


@pytest.mark.parametrize(
    ("info", "rule"),
    [
        (_tarinfo("link", tarfile.SYMTYPE, linkname="/etc/passwd"), "'link' is a symbolic link"),
        (_tarinfo("hard", tarfile.LNKTYPE, linkname="MLmodel"), "'hard' is a hard link"),
        (
            _tarinfo("tty", tarfile.CHRTYPE, devmajor=4, devminor=1),
            "'tty' is not a regular file or directory",
        ),
        (
            _tarinfo("disk", tarfile.BLKTYPE, devmajor=8, devminor=0),
            "'disk' is not a regular file or directory",
        ),
        (_tarinfo("pipe", tarfile.FIFOTYPE), "'pipe' is not a regular file or directory"),
        (_tarinfo("../evil"), "'../evil' escapes the model directory"),
        (_tarinfo("/etc/cron.d/x"), "'/etc/cron.d/x' is an absolute path"),
    ],
    ids=["symlink", "hardlink", "chardev", "blockdev", "fifo", "traversal", "absolute"],
)
def test_tar_gz_with_link_device_or_escaping_entry_is_rejected(tmp_path, info, rule):
    data = b"x" if info.type == tarfile.REGTYPE else None
    archive = _tar(tmp_path / "m.tgz", [(_tarinfo("MLmodel"), b"x"), (info, data)], mode="w:gz")
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, rule, dest)
    assert not (tmp_path / "evil").exists()


def test_every_problem_is_reported_at_once(tmp_path):
    archive = _tar(
        tmp_path / "m.tar",
        [
            (_tarinfo("../a"), b"x"),
            (_tarinfo("/b"), b"x"),
            (_tarinfo("c", tarfile.SYMTYPE, linkname="/"), None),
        ],
    )
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    assert len(exc.value.errors["model"]) == 3
    assert "(and 2 more problems)" in exc.value.message
    assert not dest.exists()


def test_zip_with_duplicate_names_is_rejected(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("model.pkl", b"good"), ("model.pkl", b"evil")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'model.pkl' duplicates 'model.pkl'", dest)


def test_tar_with_names_equal_after_normalisation_is_rejected(tmp_path):
    archive = _tar(tmp_path / "m.tar", [(_tarinfo("a/model.pkl"), b"x"), (_tarinfo("a//./model.pkl"), b"y")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'a//./model.pkl' duplicates 'a/model.pkl'", dest)


def test_file_used_as_a_directory_is_rejected(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("a", b"x"), ("a/b", b"y")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'a/b' is inside 'a', which is a file", dest)


# --- sizes, counts and bombs ---------------------------------------------------------------


def test_too_many_entries_is_too_large(tmp_path):
    archive = _zip(tmp_path / "m.zip", [(f"f{i}", b"x") for i in range(11)])
    dest = tmp_path / "out"
    with pytest.raises(TooLarge) as exc:
        extract_archive(archive, dest, ArchiveLimits(max_entries=10))
    _rejected(exc, TooLarge, 413, "more than 10 entries", dest)


def test_tar_with_too_many_entries_stops_reading_early(tmp_path):
    archive = _tar(tmp_path / "m.tar", [(_tarinfo(f"f{i}"), b"x") for i in range(11)])
    dest = tmp_path / "out"
    with pytest.raises(TooLarge) as exc:
        extract_archive(archive, dest, ArchiveLimits(max_entries=10))
    _rejected(exc, TooLarge, 413, "more than 10 entries", dest)


def test_zip_bomb_declaring_more_than_the_total_cap_is_too_large(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", [("MLmodel", b"x"), ("zeros.bin", bytes(50_000_000))])
    dest = tmp_path / "out"
    with pytest.raises(TooLarge) as exc:
        extract_archive(archive, dest, SMALL)
    _rejected(exc, TooLarge, 413, "more than 10000000 uncompressed bytes", dest)


def test_zip_entry_above_the_compression_ratio_is_rejected(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", [("MLmodel", b"x"), ("zeros.bin", bytes(5_000_000))])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, SMALL)
    _rejected(exc, ValidationFailed, 422, "'zeros.bin' exceeds the compression ratio limit of 100", dest)


def test_tar_gz_above_the_archive_compression_ratio_is_rejected(tmp_path):
    archive = _tar(tmp_path / "bomb.tgz", [(_tarinfo("zeros.bin"), bytes(5_000_000))], mode="w:gz")
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, SMALL)
    _rejected(exc, ValidationFailed, 422, "compression ratio limit of 100", dest)


def test_tar_gz_bomb_above_the_total_cap_is_too_large_before_extraction(tmp_path):
    archive = _tar(
        tmp_path / "bomb.tgz", [(_tarinfo(f"z{i}"), bytes(4_000_000)) for i in range(3)], mode="w:gz"
    )
    dest = tmp_path / "out"
    with pytest.raises(TooLarge) as exc:
        extract_archive(archive, dest, ArchiveLimits(max_total_bytes=10_000_000, max_ratio=10_000))
    _rejected(exc, TooLarge, 413, "more than 10000000 uncompressed bytes", dest)


def test_tar_gz_with_huge_long_name_header_is_too_large_without_reading_it(tmp_path):
    """tarfile reads GNU long-name data into memory whole; the bounded stream refuses first."""
    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = tarfile.GNUTYPE_LONGNAME, 50_000_000
    stream = header.tobuf(format=tarfile.GNU_FORMAT) + bytes(50_000_000)
    archive = tmp_path / "long.tgz"
    archive.write_bytes(gzip.compress(stream, compresslevel=1))
    dest = tmp_path / "out"
    with pytest.raises(TooLarge) as exc:
        extract_archive(archive, dest, ArchiveLimits(max_total_bytes=1000, max_entries=10))
    _rejected(exc, TooLarge, 413, "archive stream expands beyond", dest)


def test_entry_above_the_file_cap_is_too_large_naming_it(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("MLmodel", b"x"), ("weights.bin", os.urandom(2000))])
    dest = tmp_path / "out"
    with pytest.raises(TooLarge) as exc:
        extract_archive(archive, dest, ArchiveLimits(max_file_bytes=1000))
    _rejected(exc, TooLarge, 413, "'weights.bin' declares 2000 bytes", dest)


def test_zip_header_understating_the_size_is_caught_as_corrupt(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("weights.bin", os.urandom(1000))], compression=zipfile.ZIP_STORED)
    _set_u32(archive, b"PK\x03\x04", 22, 10)  # local header: uncompressed size
    _set_u32(archive, b"PK\x01\x02", 24, 10)  # central directory: uncompressed size
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'weights.bin' is corrupt or truncated", dest)


def test_zip_header_overstating_the_size_is_too_large(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("weights.bin", b"x" * 1000)], compression=zipfile.ZIP_STORED)
    _set_u32(archive, b"PK\x01\x02", 24, 4_000_000_000)
    dest = tmp_path / "out"
    with pytest.raises(TooLarge) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, TooLarge, 413, "'weights.bin' declares 4000000000 bytes", dest)


def test_streaming_counter_stops_real_bytes_beyond_the_file_cap(tmp_path):
    """Headers can lie: the copy itself counts real bytes and stops at the cap."""
    limits = ArchiveLimits(max_file_bytes=100_000)
    entry = _Entry(("w.bin",), False, 10, 0, zipfile.ZipInfo("w.bin"), "w.bin")
    with pytest.raises(TooLarge) as exc:
        _copy(io.BytesIO(bytes(1_000_000)), tmp_path / "w.bin", entry, _Scan(limits, "model", 1_000_000))
    assert "'w.bin' expands beyond the 100000 byte file limit" in exc.value.message
    assert (tmp_path / "w.bin").stat().st_size <= 100_000 + 64 * 1024


def test_streaming_counter_stops_real_bytes_beyond_the_ratio(tmp_path):
    limits = ArchiveLimits(max_ratio=100)
    entry = _Entry(("w.bin",), False, 10, 1000, zipfile.ZipInfo("w.bin"), "w.bin")
    with pytest.raises(ValidationFailed) as exc:
        _copy(io.BytesIO(bytes(5_000_000)), tmp_path / "w.bin", entry, _Scan(limits, "model", 10_000_000))
    assert "'w.bin' exceeds the compression ratio limit of 100" in exc.value.message


# --- not archives, corrupt archives, and cleanup -------------------------------------------


def test_text_file_named_zip_is_not_an_archive(tmp_path):
    fake = tmp_path / "model.zip"
    fake.write_text("this is not a zip\n" * 100)
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(fake, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "not a zip or tar archive", dest)


def test_gzip_that_is_not_a_tar_is_rejected(tmp_path):
    fake = tmp_path / "model.tar.gz"
    fake.write_bytes(gzip.compress(b"just a pickle, not a tar\n" * 100))
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(fake, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "tar.gz archive is corrupt or truncated", dest)


def test_truncated_zip_is_rejected_as_corrupt(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("MLmodel", b"x"), ("model.pkl", os.urandom(5000))])
    archive.write_bytes(archive.read_bytes()[:3000])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "zip archive is corrupt or truncated", dest)


def test_truncated_tar_gz_is_rejected_as_corrupt(tmp_path):
    archive = _tar(
        tmp_path / "m.tgz", [(_tarinfo("a.txt"), b"a"), (_tarinfo("b.bin"), os.urandom(200_000))], mode="w:gz"
    )
    archive.write_bytes(archive.read_bytes()[:100_000])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "archive is corrupt or truncated", dest)


def test_corrupt_later_entry_removes_files_already_written(tmp_path):
    good, bad = b"A" * 1000, bytes(range(256)) * 8
    archive = _zip(
        tmp_path / "m.zip", [("a_first.txt", good), ("b_second.bin", bad)], compression=zipfile.ZIP_STORED
    )
    _patch(archive, bad[:64], bytes(64))  # flip the stored data: CRC-32 no longer matches
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "'b_second.bin' is corrupt or truncated", dest)


def test_archive_with_only_directories_has_no_files(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("my_model/", b""), ("my_model/empty/", b"")])
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed) as exc:
        extract_archive(archive, dest, ArchiveLimits())
    _rejected(exc, ValidationFailed, 422, "archive contains no files", dest)


def test_existing_destination_is_refused_and_left_untouched(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("MLmodel", b"x")])
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    with pytest.raises(FileExistsError):
        extract_archive(archive, dest, ArchiveLimits())
    assert (dest / "keep").read_text() == "mine"


def test_unexpected_error_still_removes_the_destination(tmp_path):
    archive = _zip(tmp_path / "m.zip", [("MLmodel", b"x")])
    dest = tmp_path / "out"
    with pytest.raises(AttributeError):
        extract_archive(archive, dest, None)  # type: ignore[arg-type]
    assert not dest.exists()
