# nameko runs on eventlet: patch the standard library before anything imports it, as nameko's
# own test docs ask (its pytest plugin no longer does it). Tests then run as services do.
import eventlet

eventlet.monkey_patch()
