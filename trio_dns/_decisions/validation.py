"""DNSSEC validation of resolved answers: the trio-side driver of `_dnssec`.

Theory of operation (RFC 4035 section 5): every RRset of an answer (each
CNAME/DNAME link and the data) is checked against the DNSKEYs of the zone that
signed it, named by its RRSIGs' signer field; a negative answer is checked
through its SOA's zone and the NSEC/NSEC3 records that deny the name or type.
A zone's keys are trusted through a chain: at a trust anchor, the DNSKEY RRset
must be signed by a key an anchor names; below it, the zone's DS RRset must be
signed by the parent's trusted keys, and a DNSKEY it points at must sign the
zone's DNSKEY RRset. The parent is named by the DS RRset's signer (or, for a
denial, by the SOA of the parent's answer), so the chain is built upwards one
real zone cut at a time, and the recursion ends at an anchor because each
parent is a proper ancestor.

A zone is INSECURE when its parent proves, with a validated NSEC/NSEC3 record,
that the cut has no DS (or lies in an opt-out span), when it lies under a
configured insecure domain (RFC 7646), when only unsupported algorithms or
digests are on offer (RFC 6840 section 5.2), or when no trust anchor is above
it. A DS denial at a name that is no delegation means the name is no zone cut:
it is inside the parent zone and has the parent's keys (which then fail to
verify anything signed in its name). Anything else that fails is BOGUS, with an
Extended DNS Error code saying why.

DS and DNSKEY sets are fetched through the resolver (`Lookup.fetch`), so they
are cached and cost the question's budget; per-zone results are kept on the
Validator with a TTL (bogus ones for a minute at most). Signature validity is
checked against the wall clock the Validator is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

from .._dnssec import (
    DenialResult,
    ProofStatus,
    VerifyStatus,
    keys_matching_anchors,
    nsec3_insecure_delegation,
    nsec3_nodata,
    nsec3_nxdomain,
    nsec3_wildcard,
    nsec_insecure_delegation,
    nsec_nodata,
    nsec_nxdomain,
    nsec_wildcard,
    verify_dnskeys,
    verify_rrset,
)
from .._dnssec.sentinel import sentinel_refusal
from .._trust import Validation
from .._wire.enums import EdeCode, Rcode, RRType
from .._wire.message import Record
from .._wire.name import ROOT, Name
from .._wire.rdtypes.dnskey import DNSKEY
from .._wire.rdtypes.rrsig import RRSIG
from .._wire.rdtypes.single_name import CNAME, DNAME
from .._wire.rrset import covering, rrsets
from .answer import Answer

BOGUS_TTL = 60  # seconds a bogus result is remembered: long enough to stop a retry storm
INSECURE_TTL = 3600  # for an insecure zone when nothing gives a better TTL
MAX_CHAIN_DEPTH = 32  # zone cuts between an anchor and a signer
MAX_ZONES = 10_000  # zones whose key state is remembered; the oldest go first


@attrs.frozen
class Verdict:
    """The outcome of validating one piece of an answer."""

    validation: Validation
    reason: str = ""
    ede: EdeCode | None = None
    # For a secure RRset: how long it may stay cached (RFC 4035 section 5.3.3).
    ttl: int | None = None

    @classmethod
    def bogus(cls, reason: str, ede: EdeCode | None) -> Verdict:
        return cls(Validation.BOGUS, reason, ede or EdeCode.DNSSEC_BOGUS)


SECURE = Verdict(Validation.SECURE)


@attrs.frozen
class ZoneKeys:
    """What is known of one zone: trusted keys (SECURE), INSECURE or BOGUS."""

    zone: Name
    verdict: Verdict
    keys: tuple[Record, ...] = ()
    expires: float = 0.0


class Lookup(Protocol):
    """What the validator needs from the resolver, bound to one client question."""

    async def fetch(self, name: Name, rtype: RRType) -> Answer:
        """The unvalidated answer to (name, rtype), with its RRSIGs and proof."""
        ...

    def zone_of(self, name: Name) -> Name:
        """The deepest known zone cut at or above `name`."""
        ...

    def cuts_known(self, name: Name) -> bool:
        """Were the zone cuts above `name` met as referrals (iterative resolution),
        so that `zone_of` is the zone it is in? False behind a forwarder."""
        ...

    def note(self, name: Name, rtype: RRType, text: str) -> None:
        """Add a "dnssec" event to the question's trace."""
        ...

    def known(self, rrset: Sequence[Record]) -> Validation:
        """The validation state cached with exactly this RRset (INDETERMINATE if none)."""
        ...

    def remember(
        self,
        rrset: Sequence[Record],
        rrsigs: Sequence[Record],
        validation: Validation,
        ttl: int | None = None,
    ) -> None:
        """Cache the RRset's validation state with it, for at most `ttl` seconds."""
        ...


def _combine(verdicts: Sequence[Verdict]) -> Verdict:
    for verdict in verdicts:
        if verdict.validation is Validation.BOGUS:
            return verdict
    for verdict in verdicts:
        if verdict.validation is Validation.INSECURE:
            return verdict
    return SECURE


def _synthesised(rrset: tuple[Record, ...], records: Sequence[Record]) -> bool:
    """Is this CNAME the one a DNAME of the answer implies? It is then unsigned,
    and the DNAME's signature vouches for it (RFC 6672 section 5.3.1)."""
    cname = rrset[0]
    if cname.rtype != RRType.CNAME or not isinstance(cname.rdata, CNAME):
        return False
    for dname in records:
        if isinstance(dname.rdata, DNAME) and cname.name.is_subdomain(dname.name):
            prefix = cname.name.labels[: len(cname.name) - len(dname.name)]
            try:
                if dname.rdata.target.concatenate(prefix) == cname.rdata.target:
                    return True
            except ValueError:
                continue
    return False


def _signer(rrsigs: Sequence[Record], owner: Name) -> Name | None:
    for sig in rrsigs:
        if isinstance(sig.rdata, RRSIG) and owner.is_subdomain(sig.rdata.signer):
            return sig.rdata.signer
    return None


def _denials(proof: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    return (
        [r for r in proof if r.rtype == RRType.NSEC],
        [r for r in proof if r.rtype == RRType.NSEC3],
    )


@attrs.define(eq=False)
class Validator:
    """Validates answers from the trust anchors down; remembers zones' keys."""

    anchors: tuple[Record, ...]
    clock: Callable[[], float]  # wall-clock seconds since 1970, for signature validity
    insecure_domains: tuple[Name, ...] = ()
    nsec3_max_iterations: int = 150
    zones: dict[Name, ZoneKeys] = attrs.Factory(dict)

    @property
    def active(self) -> bool:
        return bool(self.anchors)

    def now(self) -> int:
        return int(self.clock())

    def negative_anchor(self, name: Name) -> Name | None:
        return next((d for d in self.insecure_domains if name.is_subdomain(d)), None)

    def sentinel(self, answer: Answer, validation: Validation) -> str | None:
        """Why a validated answer must be SERVFAIL after all (RFC 8509's root key
        sentinel, judged against these anchors), or None."""
        return sentinel_refusal(
            answer.qname, answer.qtype, validation, self.anchors, has_data=bool(answer.rrset())
        )

    # -- answers ---------------------------------------------------------------------

    async def validate(self, answer: Answer, lookup: Lookup) -> Verdict:
        """The DNSSEC verdict on a whole answer (chain, data, denial)."""
        verdicts = []
        for rrset in map(tuple, rrsets(answer.records, signatures=False).values()):
            if _synthesised(rrset, answer.records):
                continue
            known = lookup.known(rrset)
            if known is Validation.BOGUS:
                verdicts.append(Verdict.bogus(f"{rrset[0].name} was found bogus", None))
            elif known is not Validation.INDETERMINATE:
                verdicts.append(Verdict(known, "cached"))
            else:
                verdict = await self.rrset(rrset, answer.rrsigs, answer.proof, lookup)
                lookup.remember(
                    rrset, covering(rrset, answer.rrsigs), verdict.validation, verdict.ttl
                )
                verdicts.append(verdict)
        data = answer.rrset()
        if answer.rcode == Rcode.NXDOMAIN or (answer.rcode == Rcode.NOERROR and not data):
            final = answer.qname
            for record in answer.records:
                if isinstance(record.rdata, CNAME):
                    final = record.rdata.target
            verdicts.append(await self.denial(answer, final, lookup))
        if not verdicts:
            # Only RRSIGs were asked for: they are not signed themselves.
            return Verdict(Validation.INSECURE, "nothing to validate")
        return _combine(verdicts)

    async def rrset(
        self,
        rrset: Sequence[Record],
        rrsigs: Sequence[Record],
        proof: Sequence[Record],
        lookup: Lookup,
    ) -> Verdict:
        """Validate one RRset (and, for a wildcard expansion, its proof)."""
        first = rrset[0]
        owner = first.name
        if self.negative_anchor(owner) is not None:
            return Verdict(Validation.INSECURE, f"{owner} is under an insecure domain")
        sigs = covering(rrset, rrsigs)
        zone = _signer(sigs, owner)
        if zone is not None:
            keys = await self.zone_keys(zone, lookup)
        else:
            # Unsigned: from which zone? Insecure, or bogus for want of RRSIGs.
            home = owner.parent() if first.rtype == RRType.DS and not owner.is_root() else owner
            keys = await self.deepest_zone(home, lookup)
        if keys.verdict.validation is not Validation.SECURE:
            return keys.verdict
        result = verify_rrset(rrset, sigs, keys.keys, self.now())
        if result.status is VerifyStatus.UNSUPPORTED:
            return Verdict(Validation.INSECURE, result.reason, result.ede)
        if not result.secure:
            lookup.note(owner, first.rtype, f"bogus: {result.reason}")
            return Verdict.bogus(result.reason, result.ede)
        wildcard = result.wildcard
        if wildcard is not None:
            verdict = await self._proof(
                proof,
                keys,
                lookup,
                lambda nsec: nsec_wildcard(nsec, owner, wildcard),
                lambda nsec3: nsec3_wildcard(
                    nsec3,
                    owner,
                    wildcard,
                    max_iterations=self.nsec3_max_iterations,
                ),
            )
            if verdict.validation is not Validation.SECURE:
                return verdict
        lookup.note(owner, first.rtype, f"{owner} {first.rtype.name} secure")
        return attrs.evolve(SECURE, ttl=result.ttl)

    async def denial(self, answer: Answer, name: Name, lookup: Lookup) -> Verdict:
        """Validate a negative answer for `name`: its SOA and its NSEC/NSEC3 proof."""
        if self.negative_anchor(name) is not None:
            return Verdict(Validation.INSECURE, f"{name} is under an insecure domain")
        soa = answer.soa
        signatures = (*answer.proof, *answer.rrsigs)
        zone = None
        if soa is not None:
            zone = _signer(covering((soa,), signatures), soa.name) or soa.name
        if soa is None or zone is None or not name.is_subdomain(zone):
            keys = await self.deepest_zone(name, lookup)
            if keys.verdict.validation is not Validation.SECURE:
                return keys.verdict
            # RFC 4035 section 3.1.3: a signed zone's denial comes with its SOA.
            # Without one, this is no denial by the zone that holds the name.
            found = "no SOA" if soa is None else f"the SOA of {soa.name}"
            lookup.note(name, answer.qtype, f"bogus: denial in {keys.zone} with {found}")
            return Verdict.bogus(f"denial for {name} in {keys.zone} with {found}", None)
        keys = await self.zone_keys(zone, lookup)
        if keys.verdict.validation is not Validation.SECURE:
            return keys.verdict
        result = verify_rrset((soa,), covering((soa,), signatures), keys.keys, self.now())
        if not result.secure:
            return Verdict.bogus(f"SOA of {zone}: {result.reason}", result.ede)
        qtype = answer.qtype
        nxdomain = answer.rcode == Rcode.NXDOMAIN
        verdict = await self._denial(answer.proof, keys, lookup, name, qtype, nxdomain=nxdomain)
        kind = "NXDOMAIN" if answer.rcode == Rcode.NXDOMAIN else f"no {qtype.name}"
        lookup.note(name, qtype, f"{kind} for {name}: {verdict.validation.value}")
        return verdict

    async def _denial(
        self,
        proof: Sequence[Record],
        keys: ZoneKeys,
        lookup: Lookup,
        name: Name,
        rtype: RRType,
        *,
        nxdomain: bool,
    ) -> Verdict:
        """Does `proof` show that `name` does not exist (nxdomain), or has no `rtype`?"""
        limit = self.nsec3_max_iterations
        if nxdomain:
            return await self._proof(
                proof,
                keys,
                lookup,
                lambda nsec: nsec_nxdomain(nsec, name),
                lambda nsec3: nsec3_nxdomain(nsec3, name, max_iterations=limit),
            )
        return await self._proof(
            proof,
            keys,
            lookup,
            lambda nsec: nsec_nodata(nsec, name, rtype),
            lambda nsec3: nsec3_nodata(nsec3, name, rtype, max_iterations=limit),
        )

    async def _proof(
        self,
        proof: Sequence[Record],
        keys: ZoneKeys,
        lookup: Lookup,
        by_nsec: Callable[[list[Record]], DenialResult],
        by_nsec3: Callable[[list[Record]], DenialResult],
    ) -> Verdict:
        """Verify the NSEC/NSEC3 RRsets of `proof` with the zone's keys, then run
        the denial check on them."""
        nsec, nsec3 = _denials(proof)
        if not nsec and not nsec3:
            return Verdict.bogus("no NSEC or NSEC3 records prove it", EdeCode.NSEC_MISSING)
        verified: list[Record] = []
        for rrset in map(tuple, rrsets([*nsec, *nsec3], signatures=False).values()):
            if self.negative_anchor(rrset[0].name) is not None:
                continue
            result = verify_rrset(rrset, covering(rrset, proof), keys.keys, self.now())
            if result.secure:
                verified.extend(rrset)
            elif result.status is VerifyStatus.BOGUS:
                return Verdict.bogus(f"denial record: {result.reason}", result.ede)
        nsec, nsec3 = _denials(verified)
        if nsec3 and not nsec:
            outcome = by_nsec3(nsec3)
        elif nsec:
            outcome = by_nsec(nsec)
        else:
            return Verdict.bogus("no verifiable NSEC or NSEC3 records", EdeCode.NSEC_MISSING)
        if outcome.status is ProofStatus.PROVEN:
            return SECURE
        if outcome.status is ProofStatus.INSECURE:
            return Verdict(Validation.INSECURE, outcome.reason, outcome.ede)
        return Verdict.bogus(outcome.reason, outcome.ede)

    # -- the chain of trust ---------------------------------------------------------

    async def deepest_zone(self, name: Name, lookup: Lookup) -> ZoneKeys:
        """The keys of the zone `name` is in, for data that came without RRSIGs
        (or a denial without the zone's SOA).

        Iterating, every cut above `name` came as a referral, so the deepest zone
        cut the cache knows is the zone: asking for DS below it would only ask
        about cuts that are not there, and unsigned data in a secure zone is
        bogus, not a sign of a cut nobody mentioned. A forwarder's answers come
        with no referrals; there, from the deepest cut known and while it is
        secure, go down a label at a time asking for DS: a name with no
        delegation has its parent's keys, a proven unsigned delegation ends the
        walk as insecure (one DS question per label)."""
        zone = lookup.zone_of(name)
        if not name.is_subdomain(zone):
            zone = ROOT
        keys = await self.zone_keys(zone, lookup)
        if lookup.cuts_known(name):
            return keys
        depth = len(zone)
        while keys.verdict.validation is Validation.SECURE and depth < len(name):
            depth += 1
            keys = await self.zone_keys(name.ancestor(depth), lookup)
        return keys

    async def zone_keys(self, zone: Name, lookup: Lookup, depth: int = 0) -> ZoneKeys:
        """The trusted DNSKEYs of `zone`, or why there are none."""
        now = self.clock()
        known = self.zones.get(zone)
        if known is not None and known.expires > now:
            return known
        keys = await self._zone_keys(zone, lookup, depth)
        self.zones.pop(zone, None)
        self.zones[zone] = keys
        if len(self.zones) > MAX_ZONES:
            for name in [n for n, k in self.zones.items() if k.expires <= now]:
                del self.zones[name]
            while len(self.zones) > MAX_ZONES:
                del self.zones[next(iter(self.zones))]
        return keys

    def forget_bogus(self) -> list[Name]:
        """Forget the zones whose keys were found bogus, so the next look at them
        fetches DS and DNSKEY again (of other servers, when the resolver retries a
        bogus answer); the zones forgotten."""
        bogus = [z for z, k in self.zones.items() if k.verdict.validation is Validation.BOGUS]
        for zone in bogus:
            del self.zones[zone]
        return bogus

    def _remember(
        self, zone: Name, verdict: Verdict, ttl: int | None, keys: tuple[Record, ...] = ()
    ) -> ZoneKeys:
        if verdict.validation is Validation.BOGUS:
            ttl = min(ttl or BOGUS_TTL, BOGUS_TTL)
        elif ttl is None:
            ttl = INSECURE_TTL
        return ZoneKeys(zone, verdict, keys, self.clock() + ttl)

    async def _zone_keys(self, zone: Name, lookup: Lookup, depth: int) -> ZoneKeys:
        nta = self.negative_anchor(zone)
        if nta is not None:
            verdict = Verdict(Validation.INSECURE, f"{zone} is under the insecure domain {nta}")
            lookup.note(zone, RRType.DNSKEY, f"insecure: {verdict.reason}")
            return self._remember(zone, verdict, None)
        at_anchor = [a for a in self.anchors if a.name == zone]
        if at_anchor:
            return await self._dnskeys(zone, at_anchor, lookup, "trust anchor")
        if not any(zone.is_subdomain(a.name) for a in self.anchors):
            return self._remember(
                zone, Verdict(Validation.INSECURE, f"no trust anchor above {zone}"), None
            )
        if depth > MAX_CHAIN_DEPTH or zone.is_root():
            return self._remember(
                zone, Verdict.bogus(f"no chain of trust to {zone}", EdeCode.DNSSEC_BOGUS), None
            )
        ds_answer = await lookup.fetch(zone, RRType.DS)
        if ds_answer.failed:
            reason = ds_answer.error.extra_text if ds_answer.error else "no answer"
            return self._remember(
                zone, Verdict.bogus(f"DS of {zone}: {reason}", EdeCode.DNSSEC_BOGUS), None
            )
        ds = tuple(r for r in ds_answer.records if r.rtype == RRType.DS and r.name == zone)
        sigs = covering(ds, ds_answer.rrsigs) if ds else ()
        parent = _signer(sigs, zone) if ds else None
        if parent is None and ds_answer.soa is not None:
            parent = ds_answer.soa.name
        if parent is None or parent == zone or not zone.is_subdomain(parent):
            parent = lookup.zone_of(zone.parent())
        # Never above the anchor that covers the zone: an unsigned DS answer must
        # not lead to a zone with no anchor, which would count as insecure.
        anchor = max((a.name for a in self.anchors if zone.is_subdomain(a.name)), key=len)
        if parent == zone or not zone.is_subdomain(parent) or not parent.is_subdomain(anchor):
            parent = anchor
        parent_keys = await self.zone_keys(parent, lookup, depth + 1)
        if parent_keys.verdict.validation is not Validation.SECURE:
            ttl = int(parent_keys.expires - self.clock())
            return self._remember(zone, parent_keys.verdict, max(ttl, 1))
        now = self.now()
        if ds:
            result = verify_rrset(ds, sigs, parent_keys.keys, now)
            if result.status is VerifyStatus.UNSUPPORTED:
                return self._remember(
                    zone, Verdict(Validation.INSECURE, result.reason, result.ede), result.ttl
                )
            if not result.secure:
                lookup.note(zone, RRType.DS, f"bogus DS: {result.reason}")
                return self._remember(zone, Verdict.bogus(result.reason, result.ede), None)
            lookup.note(zone, RRType.DS, f"DS {zone} verified with the keys of {parent}")
            return await self._dnskeys(zone, ds, lookup, "DS", result.ttl)
        # No DS: either a proven unsigned delegation, or no zone cut at all here.
        delegation = await self._proof(
            ds_answer.proof,
            parent_keys,
            lookup,
            lambda nsec: nsec_insecure_delegation(nsec, zone),
            lambda nsec3: nsec3_insecure_delegation(
                nsec3, zone, max_iterations=self.nsec3_max_iterations
            ),
        )
        kind = "NSEC3" if any(r.rtype == RRType.NSEC3 for r in ds_answer.proof) else "NSEC"
        if delegation.validation is not Validation.BOGUS:
            lookup.note(zone, RRType.DS, f"insecure: no DS for {zone} ({kind})")
            verdict = Verdict(Validation.INSECURE, f"no DS for {zone}", delegation.ede)
            return self._remember(zone, verdict, ds_answer.ttl or None)
        inside = await self._denial(
            ds_answer.proof,
            parent_keys,
            lookup,
            zone,
            RRType.DS,
            nxdomain=ds_answer.rcode == Rcode.NXDOMAIN,
        )
        if inside.validation is Validation.SECURE:
            # Not a zone cut: the name belongs to the parent zone.
            return attrs.evolve(parent_keys, zone=zone)
        lookup.note(zone, RRType.DS, f"bogus: {delegation.reason}")
        return self._remember(zone, delegation, None)

    async def _dnskeys(
        self,
        zone: Name,
        anchors: Sequence[Record],
        lookup: Lookup,
        source: str,
        ttl: int | None = None,
    ) -> ZoneKeys:
        answer = await lookup.fetch(zone, RRType.DNSKEY)
        dnskeys = tuple(r for r in answer.records if r.rtype == RRType.DNSKEY and r.name == zone)
        if answer.failed or not dnskeys:
            verdict = Verdict.bogus(f"no DNSKEY records for {zone}", EdeCode.DNSKEY_MISSING)
            lookup.note(zone, RRType.DNSKEY, f"bogus: {verdict.reason}")
            return self._remember(zone, verdict, None)
        result = verify_dnskeys(dnskeys, covering(dnskeys, answer.rrsigs), anchors, self.now())
        if result.status is VerifyStatus.UNSUPPORTED:
            verdict = Verdict(Validation.INSECURE, result.reason, result.ede)
            lookup.note(zone, RRType.DNSKEY, f"insecure: {result.reason}")
            return self._remember(zone, verdict, ttl)
        if not result.secure:
            lookup.note(zone, RRType.DNSKEY, f"bogus: {result.reason}")
            return self._remember(zone, Verdict.bogus(result.reason, result.ede), None)
        for key in keys_matching_anchors(dnskeys, anchors):
            assert isinstance(key.rdata, DNSKEY)
            lookup.note(
                zone,
                RRType.DNSKEY,
                f"{source} for {zone} matches key {key.rdata.key_tag()} (alg {key.rdata.algorithm})",
            )
        lookup.note(zone, RRType.DNSKEY, f"DNSKEY {zone} verified")
        ttls = [t for t in (result.ttl, ttl) if t is not None]
        return self._remember(zone, SECURE, min(ttls) if ttls else None, result.keys)
