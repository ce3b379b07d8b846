"""DNSSEC validation, the pure part: signatures, chains of keys, denial proofs.

Nothing here does I/O or reads a clock: callers pass records and `now`, and get
back small results that say secure, bogus or insecure, and why (as an Extended
DNS Error code). `algorithms` checks signatures and DS digests, `verify` RRSIGs
over RRsets and DNSKEY RRsets against DS, `nsec` and `nsec3` the proofs that a
name or type does not exist, with results from `denial`.
"""

from .algorithms import Algorithm as Algorithm
from .algorithms import DigestType as DigestType
from .algorithms import algorithm_supported as algorithm_supported
from .algorithms import digest_supported as digest_supported
from .algorithms import ds_digest as ds_digest
from .algorithms import verify_signature as verify_signature
from .denial import DenialResult as DenialResult
from .denial import ProofStatus as ProofStatus
from .nsec import nsec_covers as nsec_covers
from .nsec import nsec_insecure_delegation as nsec_insecure_delegation
from .nsec import nsec_nodata as nsec_nodata
from .nsec import nsec_nxdomain as nsec_nxdomain
from .nsec import nsec_wildcard as nsec_wildcard
from .nsec3 import DEFAULT_MAX_ITERATIONS as DEFAULT_MAX_ITERATIONS
from .nsec3 import hashed_owner as hashed_owner
from .nsec3 import nsec3_hash as nsec3_hash
from .nsec3 import nsec3_insecure_delegation as nsec3_insecure_delegation
from .nsec3 import nsec3_nodata as nsec3_nodata
from .nsec3 import nsec3_nxdomain as nsec3_nxdomain
from .nsec3 import nsec3_wildcard as nsec3_wildcard
from .verify import KeysResult as KeysResult
from .verify import VerifyResult as VerifyResult
from .verify import VerifyStatus as VerifyStatus
from .verify import capped_ttl as capped_ttl
from .verify import ds_matches as ds_matches
from .verify import keys_matching_anchors as keys_matching_anchors
from .verify import serial_lt as serial_lt
from .verify import usable_ds as usable_ds
from .verify import verify_dnskeys as verify_dnskeys
from .verify import verify_rrset as verify_rrset
