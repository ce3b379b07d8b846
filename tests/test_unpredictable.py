import os

from trio_dns._unpredictable import random_port, random_u16


def test_numbers_cover_the_whole_range_without_repeating_batches() -> None:
    # More than one batch, so a refill is exercised too.
    drawn = [random_u16() for _ in range(10_000)]
    assert all(0 <= n <= 0xFFFF for n in drawn)
    # 10,000 draws from 65,536 values: about 9,300 distinct if uniform.
    assert len(set(drawn)) > 8_800
    assert 30_000 < sum(drawn) / len(drawn) < 35_500
    assert min(drawn) < 1_000 and max(drawn) > 64_500


def test_ports_are_never_privileged() -> None:
    ports = [random_port() for _ in range(10_000)]
    assert all(1024 <= p <= 0xFFFF for p in ports)
    assert len(set(ports)) > 8_800


def test_a_forked_child_draws_other_numbers_than_its_parent() -> None:
    random_u16()  # make sure the parent holds a half-used batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, b"".join(random_u16().to_bytes(2, "big") for _ in range(16)))
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(random_u16().to_bytes(2, "big") for _ in range(16))
    assert len(child) == 32
    assert child != parent
