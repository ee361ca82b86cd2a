"""The ``linli`` front door: a thin command line that hands each subcommand to its package;
``linli demo``, the whole system on one machine in the production topology; and the
throwaway servers on loopback (Mosquitto, PostgreSQL, InfluxDB) the demo and the tests start.

Of ``device_profiles``, ``edge_agent``, ``cloud`` and ``simulators`` it imports only their
command lines (``<package>.cli``, ``cloud.<folder>.cli``), and ``plumbing`` freely; no
package of the product imports it. Today's exception, tolerated: ``demo`` reads
``cloud.access.desk.PASSWORD_FILE`` (``tests/test_layering.py``).
"""
