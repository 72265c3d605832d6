"""Publishing the spool to the site broker: MQTT over TLS with a client certificate, QoS 1.

A thread hands queued samples to paho in order, never more than `window` unacknowledged at once,
and deletes each from the spool when its PUBACK arrives. While the connection is down nothing new
is handed over; paho re-sends what it already holds when it reconnects, and the spool keeps the
rest. Acknowledgements are passed from paho's network thread to ours through a deque (appends
and pops are atomic), so no lock is held across paho calls.

With `payload: sparkplug-b` an EdgeNode (sparkplug.py) turns each spooled sample into DDATA;
on every connection the NBIRTH and DBIRTHs go out before any data, NDEATH is the will, and an
NCMD asking for a rebirth publishes the births again.

With a `health_topic` the collector's own health (service.py) is published there, retained, on
every connection and whenever the service hands a new one over; the will of a JSON gateway is a
retained `{"state": "offline"}` on that topic, so a gateway that vanishes reads as offline
(a Sparkplug gateway's will stays its NDEATH: MQTT has one will per connection). A clean stop
publishes the offline state itself (a clean disconnect sends no will).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import ssl
import threading
import time
from pathlib import Path
from typing import cast

from plantctl.collector import sparkplug
from plantctl.collector.config import Broker
from plantctl.collector.spool import Spool

log = logging.getLogger(__name__)


class Publisher:
    def __init__(
        self,
        broker: Broker,
        spool_path: Path,
        window: int = 200,
        node: sparkplug.EdgeNode | None = None,
        health_topic: str | None = None,
    ):
        import paho.mqtt.client as mqtt

        self.broker = broker
        self.window = window
        self._spool_path = spool_path
        self._acked: collections.deque[int] = collections.deque()
        self._inflight: dict[int, int] = {}  # paho mid -> spool seq
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0  # acknowledged by the broker
        self.connects = 0
        self.last_error: str | None = None
        self.node = node
        self.births = 0  # Sparkplug: how many times NBIRTH was published
        self._order = threading.Lock()  # births and data leave in order (sequence numbers)
        self.health_topic = health_topic
        self._gateway = health_topic.rsplit("/", 1)[-1] if health_topic else broker.client_id
        self._health: dict = {"gateway": self._gateway, "state": "online"}
        self.health_published = 0

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=broker.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if broker.tls is not None:
            client.tls_set(
                ca_certs=broker.tls.ca_file,
                certfile=broker.tls.cert_file,
                keyfile=broker.tls.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.max_inflight_messages_set(window)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        if node is not None:
            client.will_set(*node.death(), qos=1, retain=False)
            client.message_callback_add(node.topic("NCMD"), self._on_command)
        elif health_topic is not None:
            client.will_set(health_topic, self._offline("will"), qos=1, retain=True)
        self._client = client

    # paho callbacks (network thread) ----------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.warning("%s", self.last_error)
            return
        self.connects += 1
        self.last_error = None
        log.info("connected to %s:%s", self.broker.host, self.broker.port)
        if self.node is not None:
            client.subscribe(self.node.topic("NCMD"), qos=1)
            self._birth()
        self._connected.set()
        self._send_health()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected.is_set():
            log.warning("disconnected from the broker (%s); buffering on disk", reason_code)
        self._connected.clear()
        if self.node is not None:  # the next connection has the next bdSeq, and its own will
            self.node.bd_seq = (self.node.bd_seq + 1) % 256
            client.will_set(*self.node.death(), qos=1, retain=False)

    def _birth(self) -> None:
        node = cast(sparkplug.EdgeNode, self.node)  # births are sent by a Sparkplug node only
        with self._order:
            for topic, body in node.births():
                self._client.publish(topic, body, qos=0)
            self.births += 1

    def _on_command(self, client, userdata, message) -> None:
        """NCMD: only a rebirth request is acted upon; nothing is ever written to a machine."""
        try:
            rebirth = sparkplug.wants_rebirth(message.payload)
        except ValueError:
            rebirth = False
        if rebirth:
            log.info("rebirth requested on %s", message.topic)
            self._birth()
        else:
            log.warning("ignoring a Sparkplug command on %s (only rebirth is done)", message.topic)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acked.append(mid)
        self._wake.set()

    # lifecycle ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        self._client.connect_async(
            self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s
        )
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._thread.start()

    def stop(self, drain_s: float = 5.0) -> None:
        """Stop handing out samples, give in-flight ones `drain_s` to be acknowledged."""
        deadline = time.monotonic() + drain_s
        while self._inflight and self.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self.health_topic is not None and self.connected:
            info = self._client.publish(
                self.health_topic, self._offline("stopped"), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):  # the connection went meanwhile
                info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def publish_health(self, health: dict) -> None:
        """The collector's current health, retained on the health topic (when connected; the
        next connection publishes the latest)."""
        self._health = {**health, "state": "online"}
        self._send_health()

    def _send_health(self) -> None:
        if self.health_topic is None or not self.connected:
            return
        body = json.dumps(self._health, sort_keys=True, separators=(",", ":"))
        self._client.publish(self.health_topic, body, qos=1, retain=True)
        self.health_published += 1

    def _offline(self, reason: str) -> str:
        return json.dumps(
            {"gateway": self._gateway, "state": "offline", "reason": reason, "ts": time.time()},
            sort_keys=True,
            separators=(",", ":"),
        )

    def wake(self) -> None:
        """New samples are in the spool."""
        self._wake.set()

    # the publishing thread ---------------------------------------------------------------------

    def _run(self) -> None:
        spool = Spool(self._spool_path)
        handed = 0  # highest seq handed to paho in this process
        try:
            while not self._stop.is_set():
                self._wake.wait(0.2)
                self._wake.clear()
                self._settle(spool)
                if not self.connected:
                    continue
                room = self.window - len(self._inflight)
                if room <= 0:
                    continue
                rows = spool.after(handed, room)
                for seq, topic, payload in rows:
                    with self._order:
                        if self.node is not None:
                            message = self.node.data(topic, payload)
                            if message is None:  # not a signal of this configuration
                                spool.remove([seq])
                                handed = seq
                                continue
                            topic, payload = message
                        info = self._client.publish(topic, payload, qos=1)
                    self._inflight[info.mid] = seq
                    handed = seq
                if len(rows) == room:
                    self._wake.set()  # more may be waiting
        except Exception:
            log.exception("publisher thread failed")
            raise
        finally:
            self._settle(spool)
            spool.close()

    def _settle(self, spool: Spool) -> None:
        done = []
        while self._acked:
            mid = self._acked.popleft()
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                done.append(seq)
        if done:
            spool.remove(done)
            self.published += len(done)

    def inflight(self) -> int:
        return len(self._inflight)
