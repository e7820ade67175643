"""Payments on a message stream: a broker interface (streaming/broker.py) with one implementation
per broker (Redis Streams today: streaming/redis_broker.py), and the local broker process the tests
and the demo start on loopback (streaming/redis_server.py)."""
