"""The throwaway InfluxDB the tests and benchmarks start: it takes line protocol and answers
InfluxQL over its v1 HTTP API."""

from __future__ import annotations

import httpx

from linli.influxdb import InfluxServer


def test_it_takes_line_protocol_and_answers_influxql(influx_server: InfluxServer) -> None:
    base = influx_server.url
    assert httpx.post(f"{base}/query", params={"q": "CREATE DATABASE probe"}).status_code == 200
    written = httpx.post(
        f"{base}/write",
        params={"db": "probe", "precision": "s"},
        content=b"reading,device=gate-01 cycles=3i 1764201600\n"
        b"reading,device=gate-01 cycles=5i 1764201660\n",
    )
    assert written.status_code == 204, written.text
    answer = httpx.get(
        f"{base}/query", params={"db": "probe", "q": "SELECT sum(cycles) FROM reading"}
    ).json()
    assert answer["results"][0]["series"][0]["values"][0][1] == 8
    assert influx_server.host == "127.0.0.1"
