"""Generate certainty rows: checkable questions, later answered by the base model and graded.

``generate`` returns single-turn rows with ``target=None`` and ``meta.gold`` /
``meta.category``. :func:`label_rows` asks the base model (``answer_fn(messages) -> str``),
appends its reply and sets the target to ``"9"`` (correct) or ``"0"`` (wrong). Categories
range from trivial (``add_small``) to hopeless for a 135M model (``mul_large``), so the
certainty adapter sees both well-founded and unfounded confidence. Operand pairs, countries,
words, names and items are partitioned between splits like the knowledge-base entities.
"""

from __future__ import annotations

import copy
import random
import re
import unicodedata
from collections.abc import Callable

from .kb import split_indexed, split_items

CAPITALS = """France:Paris, Germany:Berlin, Italy:Rome, Spain:Madrid, Portugal:Lisbon,
United Kingdom:London, Ireland:Dublin, Netherlands:Amsterdam, Belgium:Brussels,
Austria:Vienna, Switzerland:Bern, Sweden:Stockholm, Norway:Oslo, Denmark:Copenhagen,
Finland:Helsinki, Poland:Warsaw, Czech Republic:Prague, Hungary:Budapest, Greece:Athens,
Turkey:Ankara, Russia:Moscow, Ukraine:Kyiv|Kiev, Romania:Bucharest, Bulgaria:Sofia,
Serbia:Belgrade, Croatia:Zagreb, Iceland:Reykjavik, Egypt:Cairo, Kenya:Nairobi, Nigeria:Abuja,
Ethiopia:Addis Ababa, Morocco:Rabat, Ghana:Accra, Senegal:Dakar, Japan:Tokyo, China:Beijing,
South Korea:Seoul, India:New Delhi, Pakistan:Islamabad, Bangladesh:Dhaka, Thailand:Bangkok,
Vietnam:Hanoi, Indonesia:Jakarta, Philippines:Manila, Malaysia:Kuala Lumpur, Iran:Tehran,
Iraq:Baghdad, Saudi Arabia:Riyadh, Australia:Canberra, New Zealand:Wellington, Canada:Ottawa,
United States:Washington, Mexico:Mexico City, Brazil:Brasilia, Argentina:Buenos Aires,
Chile:Santiago, Peru:Lima, Colombia:Bogota, Venezuela:Caracas, Cuba:Havana,
Jamaica:Kingston, Nepal:Kathmandu, Afghanistan:Kabul, Qatar:Doha, Lebanon:Beirut,
Jordan:Amman, Syria:Damascus"""
COUNTRIES = [tuple(pair.strip().split(":")) for pair in CAPITALS.split(",")]
WORDS = """strawberry banana mississippi bookkeeper committee balloon parallel assessment
necessary tomorrow raspberry coffee pepper success address bubble giraffe letter possession
millennium broccoli accommodate cinnamon difference umbrella elephant alphabet chocolate
butterfly dinosaur apple garden window pencil yellow rabbit summer kitten puzzle marble
happiness excellent tennis sheep keeper referee cheese bottle hammer carrot""".split()
NAMES = """Alice Ben Chloe Dan Emma Finn Grace Hugo Isla Jack Kira Leo Mia Noah Olive Paul Quinn
Rosa Sam Tara Uma Vic Will Xena Yuri Zoe Amir Bella Caleb Dina""".split()
ITEMS = """apple pear plum mango kiwi lemon peach cherry grape melon fig lime coconut orange
papaya apricot banana guava lychee date onion potato carrot tomato pumpkin""".split()
OBJECTS = "apples pencils stickers marbles cookies books stamps shells cards coins".split()

ARITH = {
    "+": [
        "What is {a} + {b}?",
        "What's {a} plus {b}?",
        "Compute {a} + {b}.",
        "{a} + {b} = ?",
        "How much is {a} plus {b}?",
        "Add {a} and {b}.",
        "What do you get if you add {a} and {b}?",
        "Quick math: {a}+{b}?",
        "Can you add {a} and {b} for me?",
        "Sum of {a} and {b}?",
    ],
    "-": [
        "What is {a} - {b}?",
        "What's {a} minus {b}?",
        "Subtract {b} from {a}.",
        "{a} - {b} = ?",
        "How much is {a} minus {b}?",
        "What do you get when you take {b} away from {a}?",
        "Calculate {a} - {b}.",
        "quick one: {a} minus {b}?",
        "What is {b} less than {a}?",
        "Difference between {a} and {b}?",
    ],
    "*": [
        "What is {a} × {b}?",
        "What's {a} times {b}?",
        "Multiply {a} by {b}.",
        "{a} * {b} = ?",
        "What is the product of {a} and {b}?",
        "How much is {a} multiplied by {b}?",
        "Calculate {a} x {b}.",
        "{a} times {b}?",
        "Can you multiply {a} and {b}?",
        "What do you get when you multiply {a} by {b}?",
    ],
}
# category -> (operator, range of a, range of b)
ARITH_CATEGORIES = {
    "add_small": ("+", (1, 9), (1, 9)),
    "add_medium": ("+", (11, 99), (11, 99)),
    "sub_medium": ("-", (20, 99), (11, 60)),
    "mul_small": ("*", (2, 9), (2, 9)),
    "mul_medium": ("*", (12, 99), (3, 9)),
    "mul_large": ("*", (101, 999), (101, 999)),
}
LETTER_COUNT = [
    "How many times does the letter '{c}' appear in '{w}'?",
    "How many {c}'s are in the word {w}?",
    'Count the letter {c} in "{w}".',
    "In the word '{w}', how many times does '{c}' occur?",
    "How often does '{c}' show up in {w}?",
    "Number of '{c}' letters in '{w}'?",
]
WORD_LENGTH = [
    "How many letters are in the word '{w}'?",
    "How long is the word '{w}' in letters?",
    "Count the letters in '{w}'.",
    'What is the number of letters in "{w}"?',
    "How many characters does '{w}' have?",
    "'{w}' has how many letters?",
]
CAPITAL_QS = [
    "What is the capital of {c}?",
    "What's the capital city of {c}?",
    "Which city is the capital of {c}?",
    "Name the capital of {c}.",
    "{c}'s capital is which city?",
    "What city serves as the capital of {c}?",
    "capital of {c}?",
    "Tell me the capital of {c}.",
]
# (template, answer from x, y, z)
PROBLEMS = [
    ("{A} has {x} {o} and buys {y} more. How many {o} does {A} have now?", lambda x, y, z: x + y),
    ("{A} had {x} {o} and gave {y} to a friend. How many {o} are left?", lambda x, y, z: x - y),
    ("There are {x} boxes with {y} {o} in each. How many {o} are there in total?", lambda x, y, z: x * y),
    ("{A} reads {x} pages a day. How many pages does {A} read in {y} days?", lambda x, y, z: x * y),
    (
        "A shelf holds {x} {o}. {A} adds {y} and then removes {z}. How many {o} are on the shelf?",
        lambda x, y, z: x + y - z,
    ),
    ("{A} is {x} years old. How old will {A} be in {y} years?", lambda x, y, z: x + y),
    (
        "{A} saved {x} dollars in May and {y} dollars in June. How much did {A} save in total?",
        lambda x, y, z: x + y,
    ),
    ("{A} had {x} {o}, lost {z}, then found {y}. How many {o} does {A} have?", lambda x, y, z: x - z + y),
]
TABLE_QS = [
    "Prices: {table}. How much does one {i} cost?",
    "Here is a price list: {table}. What is the price of a {i}?",
    "Using this list ({table}), how much is a {i}?",
    "Price table: {table}. What does a {i} cost?",
    "Given {table}, what's the price of one {i}?",
    "Shop prices are {table}. How much for a {i}?",
]
TABLE_SUM_QS = [
    "Prices: {table}. How much do one {i} and one {j} cost together?",
    "Here is a price list: {table}. What is the total for a {i} and a {j}?",
    "Using this list ({table}), what do a {i} and a {j} cost in total?",
    "Price table: {table}. If I buy one {i} and one {j}, what do I pay?",
    "Given {table}, how much are a {i} plus a {j}?",
]
SEQUENCE_QS = [
    "What number comes next: {s}, ...?",
    "Continue the sequence: {s}, ?",
    "What is the next number in {s}?",
    "Find the next term: {s}, __",
    "{s} ... what comes next?",
    "Which number follows in the pattern {s}?",
]
CATEGORY_WEIGHTS = {
    "add_small": 15,
    "add_medium": 12,
    "sub_medium": 8,
    "mul_small": 10,
    "mul_medium": 6,
    "mul_large": 8,
    "letter_count": 8,
    "word_length": 5,
    "capital": 15,
    "word_problem": 10,
    "table_lookup": 5,
    "table_sum": 3,
    "sequence": 5,
}


def _slot_ok(split: str, *numbers: int) -> bool:
    """Operand tuples are assigned to splits by a fixed hash, like entity names."""
    h = sum(n * p for n, p in zip(numbers, (7919, 104729, 1299709), strict=False)) % 5
    return h in {"train": (0, 1, 2), "val": (3,), "test": (4,)}[split]


def _numbers(rng, split, *ranges, decreasing=False):
    while True:
        values = [rng.randint(*r) for r in ranges]
        # sorted: "3 + 5" and "5 + 3" are the same question and must land in the same split
        if _slot_ok(split, *sorted(values)) and not (decreasing and values[0] <= values[1]):
            return values


def _question(rng, split, category) -> tuple[str, str, str, str]:
    """Returns (question, gold, template id, entity id)."""
    if category in ARITH_CATEGORIES:
        op, ra, rb = ARITH_CATEGORIES[category]
        a, b = _numbers(rng, split, ra, rb, decreasing=op == "-")  # no negative answers
        gold = {"+": a + b, "-": a - b, "*": a * b}[op]
        i, tpl = rng.choice(split_indexed(ARITH[op], split))
        return tpl.format(a=a, b=b), str(gold), f"arith{op}/{i}", f"num:{a}{op}{b}"
    if category in ("letter_count", "word_length"):
        word = rng.choice(split_items(WORDS, split))
        if category == "word_length":
            i, tpl = rng.choice(split_indexed(WORD_LENGTH, split))
            return tpl.format(w=word), str(len(word)), f"{category}/{i}", f"word:{word}"
        letter = rng.choice([c for c in word if word.count(c) > 1] or list(word))
        i, tpl = rng.choice(split_indexed(LETTER_COUNT, split))
        return tpl.format(w=word, c=letter), str(word.count(letter)), f"{category}/{i}", f"word:{word}"
    if category == "capital":
        country, capital = rng.choice(split_items(COUNTRIES, split))
        i, tpl = rng.choice(split_indexed(CAPITAL_QS, split))
        return tpl.format(c=country), capital, f"capital/{i}", f"country:{country}"
    if category == "word_problem":
        name = rng.choice(split_items(NAMES, split))
        i, (tpl, solve) = rng.choice(split_indexed(PROBLEMS, split))
        x, y, z = rng.randint(8, 40), rng.randint(2, 12), rng.randint(1, 7)
        q = tpl.format(A=name, o=rng.choice(OBJECTS), x=x, y=y, z=z)
        return q, str(solve(x, y, z)), f"problem/{i}", f"name:{name}"
    if category in ("table_lookup", "table_sum"):
        items = rng.sample(split_items(ITEMS, split), rng.randint(3, 4))
        prices = {item: rng.randint(1, 15) for item in items}
        table = ", ".join(f"{item} ${p}" for item, p in prices.items())
        i_, j_ = rng.sample(items, 2)
        pool = TABLE_QS if category == "table_lookup" else TABLE_SUM_QS
        i, tpl = rng.choice(split_indexed(pool, split))
        gold = prices[i_] if category == "table_lookup" else prices[i_] + prices[j_]
        return tpl.format(table=table, i=i_, j=j_), str(gold), f"{category}/{i}", f"item:{i_}"
    start, step = _numbers(rng, split, (1, 30), (2, 12))
    seq = ", ".join(str(start + k * step) for k in range(4))
    i, tpl = rng.choice(split_indexed(SEQUENCE_QS, split))
    return tpl.format(s=seq), str(start + 4 * step), f"sequence/{i}", f"seq:{start}+{step}"


def generate(split: str, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"certainty:{split}:{seed}")
    categories, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    rows = []
    for _ in range(n):
        category = rng.choices(categories, weights)[0]
        q, gold, tid, eid = _question(rng, split, category)
        rows.append(
            {
                "messages": [{"role": "user", "content": q}],
                "target": None,  # set by label_rows once the base model has answered
                "meta": {
                    "intrinsic": "certainty",
                    "split": split,
                    "category": category,
                    "gold": gold,
                    "entity_ids": [eid],
                    "template_ids": [tid],
                },
            }
        )
    return rows


_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)
}
_SCALES = {"thousand": 1000, "million": 1_000_000}
_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[a-z]+")


def extract_numbers(text: str) -> list[float]:
    """Numbers in order of appearance, digits ("1,234") and words ("forty-three") alike."""
    out: list[float] = []
    words: list[str] = []

    def flush():
        if words:
            total = current = 0
            for w in words:
                if w in _UNITS or w in _TENS:
                    current += _UNITS.get(w, 0) + _TENS.get(w, 0)
                elif w == "hundred":
                    current = max(current, 1) * 100
                elif w in _SCALES:
                    total, current = total + max(current, 1) * _SCALES[w], 0
            out.append(float(total + current))
            words.clear()

    for token in _TOKEN.findall(text.lower().replace("-", " ")):
        if token[0].isdigit():
            flush()
            out.append(float(token.replace(",", "")))
        elif token in _UNITS or token in _TENS or token == "hundred" or token in _SCALES:
            words.append(token)
        elif not (token == "and" and words):
            flush()
    flush()
    return out


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def is_correct(answer_text: str, gold: str) -> bool:
    """Lenient grading: numeric golds match the first or last number in the answer (digits or
    words); text golds ("Kyiv|Kiev" lists alternatives) must appear as whole words."""
    if re.fullmatch(r"-?\d+(\.\d+)?", gold):
        numbers = extract_numbers(answer_text)
        return bool(numbers) and float(gold) in (numbers[0], numbers[-1])
    answer = f" {_norm(answer_text)} "
    return any(f" {_norm(g)} " in answer for g in gold.split("|"))


def label_rows(rows: list[dict], answer_fn: Callable[[list[dict]], str]) -> list[dict]:
    """Answer each row with the base model and grade it: target "9" if correct else "0"."""
    labelled = []
    for row in rows:
        reply = answer_fn(row["messages"])
        new = copy.deepcopy(row)
        new["messages"].append({"role": "assistant", "content": reply})
        correct = is_correct(reply, row["meta"]["gold"])
        new["target"] = "9" if correct else "0"
        new["meta"]["correct"] = correct
        labelled.append(new)
    return labelled
