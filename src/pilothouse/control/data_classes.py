"""The vocabulary tool contracts use to say which data a tool is cleared to receive.

Redaction finds data of fine-grained classes (``email``, ``phone``, ``card``, ``iban``,
``api_key``, ``secret``: :class:`~pilothouse.observability.redaction.DataClass`). A
contract may name those, or a group that stands for several of them::

    pii          email, phone, iban
    pci          card
    credentials  api_key, secret

A tool's *clearance* is its declared names with the groups expanded into their members
(:func:`clearance`), so a check is a plain subset test — "every class found in the
arguments is in the tool's clearance" — which is also how the Cedar baseline states it
(``resource.data_classes.containsAll(context.data_classes)``): the runtime hands Cedar
the fine classes found and the expanded clearance, and both enforcement points agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from pilothouse.observability.redaction.classes import DataClass

GROUPS: dict[str, frozenset[str]] = {
    "pii": frozenset({DataClass.EMAIL.value, DataClass.PHONE.value, DataClass.IBAN.value}),
    "pci": frozenset({DataClass.CARD.value}),
    "credentials": frozenset({DataClass.API_KEY.value, DataClass.SECRET.value}),
}
"""Group names a contract may use, and the fine classes each stands for."""

FINE: frozenset[str] = frozenset(data_class.value for data_class in DataClass)
"""Every class the redactor can find."""

KNOWN: frozenset[str] = FINE | frozenset(GROUPS)
"""Every name a contract's ``data_classes`` may hold."""


def unknown_names(names: Iterable[str]) -> list[str]:
    """The names of ``names`` that are neither a class nor a group, sorted."""
    return sorted(set(names) - KNOWN)


def clearance(names: Iterable[str]) -> frozenset[str]:
    """The fine classes ``names`` clear (groups expanded), with the names themselves."""
    cleared: set[str] = set()
    for name in names:
        cleared.add(name)
        cleared |= GROUPS.get(name, frozenset())
    return frozenset(cleared)
