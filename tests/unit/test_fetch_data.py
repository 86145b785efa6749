"""fetch-data against a loopback HTTP server: whole, interrupted-and-resumed, corrupted, not a dataset."""
import hashlib
import http.server
import threading

import pytest

from mlmd_parsl.fetch_data import DownloadError, download
from tests.conftest import FIXTURES

PAYLOAD = (FIXTURES / "ag_frame.xyz").read_bytes() * 40  # 40 valid frames, ~200 kB


class Server:
    """Serves PAYLOAD with Range support; can cut the connection after N bytes or flip a byte."""

    def __init__(self):
        self.cut_after = None
        self.corrupt = False
        self.ranges = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                start = 0
                header = self.headers.get("Range")
                outer.ranges.append(header)
                if header:
                    start = int(header.split("=")[1].split("-")[0])
                if start >= len(PAYLOAD) and header:  # as real servers answer a range past the end
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = bytearray(PAYLOAD[start:])
                # Take the cut before answering: the client retries as soon as the connection drops, and
                # resetting it after the shutdown let that retry be cut too on a loaded machine (CI, 11-27).
                cut_after, outer.cut_after = outer.cut_after, None
                if outer.corrupt:
                    body[len(body) // 2] ^= 0xFF
                self.send_response(206 if header else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut_after is not None:  # only the first transfer breaks
                    self.wfile.write(bytes(body[:cut_after]))
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(bytes(body))

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/Ag_warm_nospin.xyz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_whole_download_is_verified_and_placed(server, tmp_path):
    path = download(server.url, tmp_path / "Ag_warm_nospin.xyz", len(PAYLOAD), SHA, timeout=10)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "Ag_warm_nospin.xyz.part").exists()


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    server.cut_after = 50_000
    with pytest.raises(DownloadError, match=r"run again to resume|run the same command again to resume"):
        download(server.url, tmp_path / "Ag.xyz", len(PAYLOAD), SHA, timeout=10)
    part = tmp_path / "Ag.xyz.part"
    assert part.stat().st_size == 50_000
    path = download(server.url, tmp_path / "Ag.xyz", len(PAYLOAD), SHA, timeout=10)
    assert server.ranges[-1] == "bytes=50000-"
    assert path.read_bytes() == PAYLOAD


def test_corrupted_transfer_is_caught_by_the_checksum(server, tmp_path):
    server.corrupt = True
    with pytest.raises(DownloadError, match="does not match"):
        download(server.url, tmp_path / "Ag.xyz", len(PAYLOAD), SHA, timeout=10)
    assert not (tmp_path / "Ag.xyz").exists() and (tmp_path / "Ag.xyz.part.corrupt").exists()


def test_a_file_that_is_not_an_ag_dataset_is_rejected(tmp_path):
    global PAYLOAD
    saved = PAYLOAD
    PAYLOAD = b"<html>record not found</html>\n"
    s = Server()
    try:
        with pytest.raises(DownloadError, match="not a valid Ag dataset"):
            download(s.url, tmp_path / "Ag.xyz", timeout=10)
    finally:
        s.close()
        PAYLOAD = saved
    assert not (tmp_path / "Ag.xyz").exists()


def test_cli_says_where_it_put_the_file(server, tmp_path):
    import subprocess
    import sys

    from tests.conftest import child_env

    dest = tmp_path / "data" / "Ag_warm_nospin.xyz"
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl", "fetch-data", "--url", server.url, "--dest", str(dest), "--sha256", SHA,
         "--md5", hashlib.md5(PAYLOAD).hexdigest()],
        env=child_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"saved and verified: {dest}" in result.stdout and f"--set dataset.path={dest}" in result.stdout


def test_cli_keeps_a_file_whose_md5_is_not_the_pinned_one_and_says_how_to_take_it(server, tmp_path):
    """Our 40-frame stand-in is a valid Ag set but not the seed's file: the pinned MD5 catches it."""
    import subprocess
    import sys

    from mlmd_parsl.science.model.dataset import REAL_DATASET_MD5
    from tests.conftest import child_env

    dest = tmp_path / "Ag_warm_nospin.xyz"
    result = subprocess.run([sys.executable, "-m", "mlmd_parsl", "fetch-data", "--url", server.url,
                             "--dest", str(dest)],
                            env=child_env(), capture_output=True, text=True, timeout=120)
    actual = hashlib.md5(PAYLOAD).hexdigest()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"MD5 {actual}, expected {REAL_DATASET_MD5}" in result.stderr
    assert f"--set dataset.md5={actual}" in result.stderr
    assert dest.read_bytes() == PAYLOAD  # kept


def test_a_complete_part_file_is_verified_and_placed_though_the_server_answers_416(server, tmp_path):
    (tmp_path / "Ag.xyz.part").write_bytes(PAYLOAD)  # the transfer ended, the process did not get to check it
    path = download(server.url, tmp_path / "Ag.xyz", len(PAYLOAD), SHA, timeout=10)
    assert server.ranges[-1] == f"bytes={len(PAYLOAD)}-" and path.read_bytes() == PAYLOAD


def test_a_folder_as_dest_gets_the_file_in_it_and_an_existing_file_is_replaced_only_by_one_that_passes(
        server, tmp_path):
    path = download(server.url, tmp_path, len(PAYLOAD), SHA, timeout=10)
    assert path == tmp_path / "Ag_warm_nospin.xyz" and path.read_bytes() == PAYLOAD
    good = b"the file a user already has\n"
    path.write_bytes(good)
    with pytest.raises(DownloadError, match="MD5 .* was left as it was"):
        download(server.url, tmp_path, expected_md5="0" * 32, timeout=10)
    assert path.read_bytes() == good and (tmp_path / "Ag_warm_nospin.xyz.new").read_bytes() == PAYLOAD
