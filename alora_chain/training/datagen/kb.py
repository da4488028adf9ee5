"""Fictional knowledge base shared by the generators: name pools, entities, worlds and splits.

How splits are kept apart
-------------------------
Every pool that *names* an entity (first names, surnames, product brands, town prefixes,
company roots) and every text template (questions, fact sentences, reply frames, requirement
wordings, certainty question forms) is partitioned by position with :func:`split_items`:
index % 5 in {0, 1, 2} -> ``train``, 3 -> ``val``, 4 -> ``test`` (roughly 60/20/20). A
:class:`World` built for a split draws names only from that split's pools, so no entity name
and no template id is shared between splits. Rows record ``meta["entity_ids"]`` and
``meta["template_ids"]`` so this can be checked. Value pools (professions, colours, rivers,
years, prices) are shared: they are attributes, not identities.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

SPLITS = ("train", "val", "test")
_SPLIT_SLOTS = {"train": (0, 1, 2), "val": (3,), "test": (4,)}


def split_items(items: list, split: str) -> list:
    """The share of ``items`` that belongs to ``split`` (see module docstring)."""
    return [item for _, item in split_indexed(items, split)]


def split_indexed(items: list, split: str) -> list[tuple[int, object]]:
    """Like :func:`split_items` but keeps each item's original index (used as template id)."""
    if split not in _SPLIT_SLOTS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return [(i, item) for i, item in enumerate(items) if i % 5 in _SPLIT_SLOTS[split]]


FEMALE = """Amara Beatriz Chiara Dalia Elif Freya Greta Hana Ines Jolene Katya Leila Mirela Nadia
Oona Priya Rosalind Sanna Talia Ulla Vera Wanda Ximena Yara Zofia Adele Brigid Celeste Daria
Esme Fenna Gwen Helga Ilse Junia Kalina Liora Maren Noor Odile Petra Quilla Rhea Signe Thea""".split()
MALE = """Anders Bruno Cyrus Dmitri Emeka Florin Gideon Hamish Idris Jonas Kenji Lorenzo Matteo
Nikolai Osric Pavel Quentin Rafael Stellan Tobias Umberto Viktor Wendell Xavier Yusuf Zoltan
Alaric Bastian Casimir Desmond Elias Fabian Gustav Henrik Ivo Jasper Kofi Leopold Milo Nils Otto
Piet Ruben Silas Teodor""".split()
SURNAMES = """Abernathy Bakker Castellano Delacourt Ekwueme Fairbanks Galloway Holmqvist Iwasaki
Jablonski Kowalczyk Lindqvist Marchetti Nakamura Okonkwo Pemberton Quispe Rasmussen Szabo
Takahashi Umarov Vasquez Whitlock Yilmaz Zielinski Achterberg Blackwood Carrington Draper Eriksen
Fontaine Gallagher Hargreaves Ibarra Jovanovic Kristiansen Lombardi Mwangi Novak Oyelaran
Petrovic Quinlan Rourke Sandoval Thornbury Uchida Valdivia Wexler Yamamoto Zamora Ashdown
Bergstrom Cavanagh Dubois Esposito Falkner Grimaldi Hollister Ingram Jaramillo Kavanagh Larsen
Moreau Nordin Ogunleye Pacheco Rinaldi Sorensen Tanaka Underhill Varga Winslow Yates Zeller
Albright Brennan Calloway Dunmore Everhart Fitzgerald Gutierrez Halvorsen Ishikawa Kessler
Lachance Mancini Nyberg Okafor Prescott Radcliffe""".split()
BRANDS = """Zentra Novix Altura Kivo Lumio Orbis Pexa Quanta Sorel Tavra Velto Wyvo Yuna Corvo Brisa
Dexo Elara Fyra Gorvo Helix Istra Jovo Kelta Lyra Mavo Nexa Optra Prysm Rivo Solva""".split()
SERIES = ["X", "Air ", "Pulse ", "Nova ", "Go ", "Max ", "Lite ", "One ", "Pro ", "Edge "]
TOWN_PREFIXES = """Ash Bram Cold Elm Fair Glen Hart Ivy Kings Lark Mill North Oak Pine Red Stone
Thorn West Wil Amber Black Clear Deer Fox Hazel Iron Juniper Kestrel Linden Marsh Nether Orchard
Pebble Quarry Raven Silver Tall Upper Willow Yew""".split()
TOWN_SUFFIXES = "ford brook field haven ton wick mere bury stead vale moor dale".split()
COMPANY_ROOTS = """Brightline Cobalt Halvard Meridian Northwind Quillon Redwater Sablecrest Tidewell
Vantor Ashgrove Bellmont Crestfield Driftwood Emberly Greystone Harborview Ironbark Keystone
Lumen Mossley Nightjar Oakridge Pinecrest Quayside Rookwood Silverleaf Thistle Umber Vireo
Wrenfield Yarrow Zephyr Alder Birchwood Corvid Dunlin Everly Fennel Gannet""".split()
COMPANY_SUFFIXES = "Labs Systems Foods Logistics Analytics Robotics Energy Textiles".split()
EVENT_KINDS = """Lantern Festival|Jazz Week|Film Festival|Marathon|Book Fair|Food Market|Kite Festival
|Harvest Fair|Folk Festival|Science Fair""".replace("\n", "").split("|")

PROFESSIONS = [
    "an architect",
    "a nurse",
    "a software engineer",
    "a teacher",
    "a pharmacist",
    "a journalist",
    "a carpenter",
    "an accountant",
    "a marine biologist",
    "a chef",
    "a librarian",
    "a civil engineer",
    "a photographer",
    "a veterinarian",
    "a translator",
    "a data analyst",
    "an electrician",
    "a dentist",
    "a graphic designer",
    "a pilot",
    "a lawyer",
    "a baker",
    "a physiotherapist",
    "a historian",
]
COLOURS = [
    "matte black",
    "midnight blue",
    "sage green",
    "silver",
    "rose gold",
    "graphite",
    "coral red",
    "pearl white",
    "sky blue",
    "sand beige",
    "forest green",
    "charcoal grey",
]
RIVERS = [
    f"the {r} River"
    for r in """Ember Silt Wendle Marrow Greyburn Tamsin Corrie Brisk
Vellan Osk Fennick Durra Kell Mira Aldon""".split()
]
MONTHS = """January February March April May June July August September October November
December""".split()
# product type -> (price range $, battery range h, weight range g)
PRODUCT_TYPES = {
    "phone": ((199, 1299), (18, 40), (140, 230)),
    "tablet": ((249, 1099), (9, 14), (300, 700)),
    "laptop": ((499, 2499), (6, 22), (1100, 2300)),
    "smartwatch": ((99, 599), (18, 120), (28, 65)),
    "e-reader": ((89, 349), (300, 900), (160, 250)),
    "speaker": ((49, 399), (8, 30), (250, 1200)),
    "fitness tracker": ((39, 199), (72, 336), (18, 35)),
    "camera": ((299, 2199), (3, 8), (350, 900)),
    "headset": ((59, 449), (20, 60), (180, 320)),
}

KINDS = ("person", "product", "town", "company", "event")
KIND_ATTRS = {
    "person": ["birth_year", "city", "profession", "employer"],
    "product": ["price", "battery", "weight", "colour", "release_year"],
    "town": ["population", "river", "founded"],
    "company": ["founded", "headquarters", "ceo", "employees"],
    "event": ["month", "first_held", "visitors"],
}
CATEGORICAL = {"profession": PROFESSIONS, "colour": COLOURS, "river": RIVERS, "month": MONTHS}
LINKS = {"city": "town", "headquarters": "town", "employer": "company", "ceo": "person"}
YEARS = {"birth_year": (1941, 2003), "release_year": (2016, 2025), "first_held": (1948, 2019)}
NUMBER_FREE_ATTRS = {"city", "profession", "employer", "colour", "river", "month", "headquarters", "ceo"}
OBJ = {"he": "him", "she": "her", "it": "it"}
POSS = {"he": "his", "she": "her", "it": "its"}


@dataclass
class Entity:
    """One fictional thing. ``ref`` is how prose refers to it ("the Zentra X2", "Mara Okonkwo")."""

    kind: str
    name: str
    ref: str
    pronoun: str
    noun: str
    keys: tuple[str, ...]  # name parts shared by similar-looking entities, most similar first
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"


class World:
    """All entities of one split (names drawn from that split's pools only)."""

    def __init__(self, split: str, entities: list[Entity]):
        self.split = split
        self.entities = entities
        self.by_kind = {k: [e for e in entities if e.kind == k] for k in KINDS}
        self.by_name = {e.name: e for e in entities}

    def pick(self, rng: random.Random, kind: str | None = None) -> Entity:
        return rng.choice(self.by_kind[kind] if kind else self.entities)

    def other(self, rng: random.Random, entity: Entity, kind: str | None = None) -> Entity:
        pool = [e for e in self.by_kind[kind or entity.kind] if e is not entity]
        return rng.choice(pool)

    def similar(self, rng: random.Random, entity: Entity) -> Entity:
        """A same-kind entity whose name shares a part with ``entity`` (hard negative)."""
        for i, key in enumerate(entity.keys):
            pool = [e for e in self.by_kind[entity.kind] if e is not entity and e.keys[i] == key]
            if pool:
                return rng.choice(pool)
        return self.other(rng, entity)


def _clustered(rng: random.Random, groups: dict[str, list], n: int) -> list:
    """Sample ``n`` items taking 1-3 per group at a time, so look-alike names co-occur."""
    pools = {k: rng.sample(v, len(v)) for k, v in groups.items()}
    keys = sorted(pools)
    out: list = []
    while len(out) < n and any(pools.values()):
        key = rng.choice([k for k in keys if pools[k]])
        for _ in range(rng.randint(1, 3)):
            if pools[key] and len(out) < n:
                out.append(pools[key].pop())
    return out


def _round(n: float) -> int:
    step = 1000 if n >= 100_000 else 100 if n >= 10_000 else 10 if n >= 1000 else 1
    return max(step, round(n / step) * step)


def fmt_value(attr: str, n: int) -> str:
    if attr == "price":
        return f"${n:,}"
    if attr == "battery":
        return f"{n} hours"
    if attr == "weight":
        return f"{n:,} grams"
    if attr in ("population", "employees", "visitors"):
        return f"{n:,}"
    return str(n)


def number_in(value: str) -> int:
    return int(re.sub(r"\D", "", value))


def fresh_value(rng: random.Random, world: World, entity: Entity, attr: str) -> str:
    """A plausible random value for ``attr`` of ``entity`` (used for creation and inventions)."""
    if attr in CATEGORICAL:
        return rng.choice(CATEGORICAL[attr])
    if attr in LINKS:
        return world.pick(rng, LINKS[attr]).name
    if attr in YEARS:
        return str(rng.randint(*YEARS[attr]))
    if attr == "founded":
        return str(rng.randint(1150, 1890) if entity.kind == "town" else rng.randint(1952, 2021))
    if attr in ("price", "battery", "weight"):
        lo, hi = PRODUCT_TYPES[entity.noun][("price", "battery", "weight").index(attr)]
        n = rng.randint(lo, hi)
        n = n // 10 * 10 + 9 if attr == "price" and n > 60 else n
        return fmt_value(attr, n)
    ranges = {"population": (1200, 320_000), "employees": (35, 48_000), "visitors": (1500, 250_000)}
    lo, hi = ranges[attr]
    return fmt_value(attr, _round(int(lo * (hi / lo) ** rng.random())))  # log-uniform


def perturb(rng: random.Random, world: World, entity: Entity, attr: str, value: str) -> str:
    """A wrong but plausible value for ``attr`` (never equal to ``value``)."""
    if attr in CATEGORICAL or attr in LINKS:
        for _ in range(50):
            new = fresh_value(rng, world, entity, attr)
            if new != value:
                return new
    n = number_in(value)
    for _ in range(50):
        if attr in YEARS or attr == "founded":
            m = n + rng.choice([-1, 1]) * rng.randint(1, 12)
        elif attr == "battery":
            m = max(1, n + rng.choice([-1, 1]) * rng.randint(2, max(3, n // 3)))
        elif attr == "price":
            m = int(n * rng.choice([0.6, 0.75, 1.25, 1.5])) // 10 * 10 + 9
        else:
            m = _round(n * rng.choice([0.5, 0.7, 1.4, 2.0]))
        if m != n:
            return fmt_value(attr, m)
    raise RuntimeError(f"could not perturb {attr}={value!r}")


def _people(rng: random.Random, split: str, n: int) -> list[Entity]:
    firsts = split_items(FEMALE, split) + split_items(MALE, split)
    groups = {s: [(f, s) for f in firsts] for s in split_items(SURNAMES, split)}
    return [
        Entity("person", f"{f} {s}", f"{f} {s}", "she" if f in FEMALE else "he", "person", (s, f))
        for f, s in _clustered(rng, groups, n)
    ]


def _products(rng: random.Random, split: str, n: int) -> list[Entity]:
    groups = {
        f"{b} {s}": [(b, s, k) for k in range(2, 10)] for b in split_items(BRANDS, split) for s in SERIES
    }
    out = []
    for b, s, k in _clustered(rng, groups, n):
        name = f"{b} {s}{k}"
        out.append(
            Entity("product", name, f"the {name}", "it", rng.choice(list(PRODUCT_TYPES)), (f"{b} {s}", b))
        )
    return out


def build_world(split: str, seed: int = 0, size: int = 40) -> World:
    """A seeded world with about ``size`` entities per kind (capped by the split's name pools)."""
    rng = random.Random(f"world:{split}:{seed}")
    towns = [
        Entity("town", p + s, p + s, "it", "town", (p, s))
        for p, s in _clustered(
            rng, {p: [(p, s) for s in TOWN_SUFFIXES] for p in split_items(TOWN_PREFIXES, split)}, size
        )
    ]
    companies = [
        Entity("company", f"{r} {s}", f"{r} {s}", "it", "company", (r, s))
        for r, s in _clustered(
            rng, {r: [(r, s) for s in COMPANY_SUFFIXES] for r in split_items(COMPANY_ROOTS, split)}, size
        )
    ]
    events = [
        Entity("event", f"{t.name} {k}", f"the {t.name} {k}", "it", "event", (t.name, k))
        for t, k in _clustered(rng, {t.name: [(t, k) for k in EVENT_KINDS] for t in towns}, size)
    ]
    world = World(split, towns + companies + events + _people(rng, split, size) + _products(rng, split, size))
    for entity in world.entities:
        for attr in KIND_ATTRS[entity.kind]:
            entity.attrs[attr] = fresh_value(rng, world, entity, attr)
    return world
