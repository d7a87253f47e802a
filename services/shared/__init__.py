"""What the Timebank services share: the contracts on the bus, the store adapter, metrics, errors.

Nothing here knows about a particular service's domain; services depend on this package and
never on each other.
"""
