"""Testing tools: a simulated internet of authoritative servers on virtual time.

Like `trio.testing`, this is not imported by `import trio_dns`. Build a network,
put servers on it, and hand it to anything that takes a `Transport`::

    network = FakeNetwork()
    network.add_server(["192.0.2.1"], [ZONE_TEXT], behaviour=Behaviour(loss=0.2))
    exchanger = Exchanger(network)

Run the test under `trio.testing.MockClock(autojump_threshold=0)` (pytest-trio's
`autojump_clock` fixture) and timeouts cost no real time.
"""

from .._decisions.authority import Zone as Zone
from .._decisions.authority import answer_query as answer_query
from .._public import publish as _publish
from ._behaviour import Behaviour as Behaviour
from ._behaviour import ForgedCase as ForgedCase
from ._behaviour import Forgery as Forgery
from ._behaviour import Handler as Handler
from ._behaviour import Lame as Lame
from ._log import Action as Action
from ._log import Exchange as Exchange
from ._network import FakeNetwork as FakeNetwork
from ._sandbox import Sandbox as Sandbox
from ._sandbox import build_sandbox as build_sandbox
from ._server import AuthoritativeServer as AuthoritativeServer
from ._signing import NSEC3Parameters as NSEC3Parameters
from ._signing import SigningKey as SigningKey
from ._signing import make_ds as make_ds
from ._signing import sign_rrset as sign_rrset
from ._signing import sign_zone as sign_zone

# Names defined here say `trio_dns.testing`; those `trio_dns` exports too, like
# `Zone`, have said `trio_dns` since it was imported.
_publish(globals(), __name__)
