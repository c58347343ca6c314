import pandas as pd
import pytest

from audit.errors import IndexError_
from audit.workspace.index import detect_encoding, read_index

HEADER = "流水号,坐席工号,坐席姓名,班组,开始时间,通话时长,录音文件\n"


def write(tmp_path, text, encoding="utf-8", name="index.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_gbk_file_with_chinese_headers(tmp_path):
    p = write(tmp_path, HEADER + "c1,1001,张敏,一班,2026-11-19 08:00:00,125,a/c1.wav\n", "gbk")
    assert detect_encoding(p.read_bytes()) == "gb18030"
    idx = read_index(p, tmp_path)
    assert idx.problems == []
    row = idx.calls.iloc[0]
    assert (row.call_id, row.agent_id, row.agent_name, row.team, row.duration) == ("c1", "1001", "张敏", "一班", 125.0)
    assert str(row.day) == "2026-11-19"


def test_utf8_bom_and_clock_durations(tmp_path):
    p = write(tmp_path, "\ufeff" + HEADER + "c1,1001,张敏,一班,2026/11/19 08:00,00:06:41,a/c1.wav\n")
    idx = read_index(p, tmp_path)
    assert idx.encoding == "utf-8-sig"
    assert idx.calls.iloc[0].duration == 401.0


def test_bad_rows_reported_with_row_numbers_and_skipped(tmp_path):
    body = (
        "ok1,1001,甲,一班,2026-11-19 08:00:00,100,a/1.wav\n"  # row 2
        "bad2,,乙,一班,2026-11-19 08:00:00,100,a/2.wav\n"  # row 3: no agent
        "bad3,1002,丙,一班,2026-11-19 08:00:00,-5,a/3.wav\n"  # row 4: negative
        "bad4,1002,丙,一班,2026-11-19 08:00:00,abc,a/4.wav\n"  # row 5: not a number
        "bad5,1002,丙,一班,yesterday-ish,100,a/5.wav\n"  # row 6: time
        "bad6,1002,丙,一班,2026-11-19 09:00:00,100,../../etc/passwd\n"  # row 7: escapes root
        "ok1,1003,丁,一班,2026-11-19 09:00:00,100,a/7.wav\n"  # row 8: duplicate id
        "ok8,1003,丁,一班,2026-11-19 09:00:00,100,a/8.wav\n"  # row 9
    )
    idx = read_index(write(tmp_path, HEADER + body), tmp_path)
    assert idx.calls["call_id"].tolist() == ["ok1", "ok8"]
    got = {(p.row, p.item): p.message for p in idx.problems}
    assert [r for r, _ in got] == [3, 4, 5, 6, 7, 8]
    assert got[(3, "bad2")] == "missing agent id"
    assert "negative duration" in got[(4, "bad3")]
    assert "not a number" in got[(5, "bad4")]
    assert "cannot be parsed" in got[(6, "bad5")]
    assert "outside the recording root" in got[(7, "bad6")]
    assert "duplicate call id" in got[(8, "ok1")]


def test_column_mapping_from_config(tmp_path):
    text = "id_x,emp,when,secs,wav\nc1,7,2026-11-19 08:00:00,30,x.wav\n"
    cols = {"call_id": "id_x", "agent_id": "emp", "start": "when", "duration": "secs", "audio_path": "wav"}
    idx = read_index(write(tmp_path, text), tmp_path, cols)
    assert idx.calls.iloc[0].agent_id == "7"


def test_missing_column_names_the_fix(tmp_path):
    with pytest.raises(IndexError_, match=r"no column for .*audio_path.*\[index.columns\]"):
        read_index(write(tmp_path, "流水号,坐席工号,开始时间,通话时长\nc1,1,2026-11-19 08:00,3\n"), tmp_path)


def test_xlsx_index(tmp_path):
    df = pd.DataFrame(
        {"流水号": ["c1"], "坐席工号": ["1001"], "开始时间": ["2026-11-19 08:00:00"], "通话时长": [300], "录音文件": ["x.wav"]}
    )
    p = tmp_path / "index.xlsx"
    df.to_excel(p, index=False)
    idx = read_index(p, tmp_path)
    assert idx.calls.iloc[0].duration == 300.0 and idx.problems == []


def test_missing_and_empty_index_files(tmp_path):
    with pytest.raises(IndexError_, match="does not exist"):
        read_index(tmp_path / "nope.csv", tmp_path)
    with pytest.raises(IndexError_, match="empty"):
        read_index(write(tmp_path, ""), tmp_path)
