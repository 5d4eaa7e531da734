"""Budgets and rate limits per API key and per tenant, enforced in the store.

Three limits, each optional, for a key (set when it is created) and for its tenant (set
by an admin, or the process defaults):

* requests/min — taken at ingress for creates of responses and conversation writes
  (:mod:`.ingress`);
* tokens/min — before each model call the window must not be spent already; after it, the
  call's actual input + output tokens are charged (one call may therefore overshoot the
  window by its own size, as with every provider's token limits);
* USD/day — before each model call (plain or an agent's step) its worst case is reserved
  against the key and the tenant, after it the reservation is settled to the actual cost,
  so concurrent runs on any number of replicas can never overshoot (:mod:`.metered`).

:mod:`.ledger` turns these into atomic conditional updates of the store's counters; it
costs one statement per configured limit, and nothing at all when none is configured.
:mod:`.guard` finds the limits of a request's principal and puts the meter around the
model a response will call.
"""
