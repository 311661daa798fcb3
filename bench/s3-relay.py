#!/usr/bin/env python3
"""A TCP relay that counts the bytes clients send to the server (bench/s3.sh's write amplification).

Usage: s3-relay.py LISTEN_PORT UPSTREAM_PORT COUNT_FILE
Relays 127.0.0.1:LISTEN_PORT to 127.0.0.1:UPSTREAM_PORT; writes the total client->server byte count to COUNT_FILE
every half second and on SIGTERM.
"""
import asyncio, signal, sys

listen_port, upstream_port, count_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sent = 0


def dump():
    with open(count_file + ".tmp", "w") as f:
        f.write(str(sent))
    import os
    os.replace(count_file + ".tmp", count_file)


async def pipe(reader, writer, count):
    global sent
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            if count:
                sent += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, sw, True), pipe(sr, cw, False))


async def ticker():
    while True:
        dump()
        await asyncio.sleep(0.5)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    t = asyncio.create_task(ticker())
    await stop
    t.cancel()
    server.close()
    dump()

asyncio.run(main())
