"""RPC between services, with a deadline on every call.

nameko's RpcProxy waits for a reply forever; a caller that serves a person must give up and
say "unavailable" (503) instead. A late reply to a call we gave up on is dropped by nameko's
reply listener.
"""
import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy

from services.shared.config import rpc_timeout
from services.shared.errors import ServiceUnavailable


class TimedRpcProxy(RpcProxy):
    def get_dependency(self, worker_ctx):
        proxy = super().get_dependency(worker_ctx)
        return TimedServiceProxy(proxy, self.target_service, rpc_timeout(self.container.config))


class TimedServiceProxy:
    def __init__(self, proxy, service_name, timeout):
        self._proxy = proxy
        self._service_name = service_name
        self._timeout = timeout

    def __getattr__(self, method_name):
        method = getattr(self._proxy, method_name)

        def call(*args, **kwargs):
            target = f"{self._service_name}.{method_name}"
            try:
                reply = method.call_async(*args, **kwargs)
            except UnknownService:
                raise ServiceUnavailable(f"{self._service_name} is not running")
            try:
                with eventlet.Timeout(self._timeout):
                    return reply.result()
            except eventlet.Timeout:
                raise ServiceUnavailable(f"{target} did not answer within {self._timeout:g}s")

        return call
