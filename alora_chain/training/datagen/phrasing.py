"""User-side templates: questions per attribute, follow-ups, small talk and typing styles.

Placeholders: ``{name}`` subject reference, ``{obj}`` object reference, ``{pos}`` possessive,
``{value}`` the attribute value. A template's position in its list is its id; lists are split
60/20/20 into train/val/test by :func:`alora_chain.training.datagen.kb.split_indexed`, so keep at least
five entries per list and append new ones at the end (inserting would move ids across splits).
"""

from __future__ import annotations


def lines(text: str) -> list[str]:
    """One template per non-blank line (a format that keeps template ids easy to read)."""
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def blocks(text: str) -> dict[str, list[str]]:
    """``[key]`` header lines, each followed by its templates, one per line."""
    out: dict[str, list[str]] = {}
    for line in lines(text):
        if line.startswith("[") and line.endswith("]"):
            key = line[1:-1]
            out[key] = []
        else:
            out[key].append(line)
    return out


QUESTIONS = blocks(
    """
[birth_year]
When was {name} born?
What year was {name} born?
In what year was {name} born?
What is {pos} year of birth?
Do you know the year {name} was born?
Which year was {name} born in?
What's {pos} birth year?
Can you tell me when {name} was born?
[city]
Where does {name} live?
Which town does {name} live in?
What city is {name} based in?
Where is {name} based?
In which town does {name} reside?
Where is {pos} home these days?
What town is {name} living in now?
Where does {name} currently live?
[profession]
What does {name} do for a living?
What is {pos} job?
What is {pos} profession?
What does {name} work as?
What's {pos} occupation?
What kind of work does {name} do?
What job does {name} have?
Which profession does {name} have?
[employer]
Who does {name} work for?
Which company employs {obj}?
Where does {name} work?
What company is {name} employed by?
Who is {pos} employer?
Which firm does {name} work at?
What company does {name} work for?
Who employs {obj}?
[price]
How much does {name} cost?
What is the price of {obj}?
What's {pos} price?
How much is {obj}?
What does {name} sell for?
How expensive is {name}?
What is {pos} retail price?
How much would {obj} set me back?
[battery]
How long does {pos} battery last?
What is {pos} battery life?
How many hours of battery life does {name} have?
How long can {name} run on a single charge?
What's the battery life of {obj}?
How long does {name} last on one charge?
What battery life does {name} offer?
How many hours does {pos} battery last?
[weight]
How much does {name} weigh?
What is {pos} weight?
How heavy is {name}?
What's the weight of {obj}?
How many grams does {name} weigh?
What does {name} weigh?
How light is {name}?
What is the weight of {obj}?
[colour]
What colour is {name}?
What color does {name} come in?
Which colour is {name} available in?
What's {pos} colour?
What color is {obj}?
In what colour is {name} sold?
What finish does {name} come in?
Which color does {name} have?
[release_year]
When was {name} released?
What year did {name} come out?
When did {name} launch?
In which year was {name} released?
What's {pos} release year?
When did {name} hit the market?
What year was {name} launched?
When did {name} first go on sale?
[population]
What is the population of {obj}?
How many people live in {obj}?
How big is {pos} population?
What's {pos} population?
How many residents does {name} have?
How populous is {name}?
How many inhabitants does {name} have?
What population does {name} have?
[river]
Which river flows through {obj}?
What river runs through {obj}?
What river is {name} on?
Which river does {name} lie on?
What's the name of the river in {obj}?
Which river is {name} built on?
Which river passes through {obj}?
What river does {name} sit on?
[founded]
When was {name} founded?
What year was {name} established?
In which year was {name} founded?
What's {pos} founding year?
When did {name} get started?
Since when has {name} existed?
What year was {name} founded in?
When was {name} established?
[headquarters]
Where is {name} headquartered?
Where are {pos} headquarters?
In which town is {name} based?
Where is {pos} head office?
What city is {name} headquartered in?
Where is {name} located?
Where does {name} have its main office?
Which town hosts {pos} headquarters?
[ceo]
Who is the CEO of {obj}?
Who runs {obj}?
Who leads {obj}?
Who is {pos} chief executive?
Who's in charge of {obj}?
Who heads {obj}?
Who is the boss of {obj}?
Who currently leads {obj} as CEO?
[employees]
How many people work at {obj}?
How many employees does {name} have?
What is {pos} headcount?
How big is {pos} workforce?
How many staff does {name} employ?
How large is {pos} staff?
How many workers does {name} have?
What's the size of {pos} workforce?
[month]
When is {name} held?
What month does {name} take place?
In which month is {name}?
When does {name} happen each year?
What time of year is {name}?
Which month is {name} held in?
When does {name} take place?
In what month does {name} run?
[first_held]
When was {name} first held?
What year did {name} start?
When did {name} begin?
Since when has {name} been running?
What year was the first edition of {obj}?
In what year did {name} start?
When did {name} debut?
When did {name} take place for the first time?
[visitors]
How many people visit {obj}?
How many visitors does {name} attract?
How many people attend {obj}?
What's {pos} attendance?
How many visitors come to {obj} each year?
What is the attendance at {obj}?
How many people go to {obj}?
How big is the crowd at {obj}?
"""
)

# What a follow-up like "and its battery life?" calls the attribute.
NOUNS = {
    "birth_year": ["birth year", "year of birth"],
    "city": ["city", "place of residence"],
    "profession": ["job", "profession", "occupation"],
    "employer": ["employer", "company"],
    "price": ["price", "cost"],
    "battery": ["battery life", "battery"],
    "weight": ["weight"],
    "colour": ["colour", "color"],
    "release_year": ["release year", "launch year"],
    "population": ["population"],
    "river": ["river"],
    "founded": ["founding year"],
    "headquarters": ["headquarters", "head office"],
    "ceo": ["CEO", "chief executive"],
    "employees": ["headcount", "number of employees"],
    "month": ["month", "dates"],
    "first_held": ["first edition", "start year"],
    "visitors": ["attendance", "visitor numbers"],
}

# Follow-ups that refer back to an entity without naming it (query rewrite, context relevance).
FOLLOW_UPS = lines(
    """
what about {pos} {noun}?
and {pos} {noun}?
{pos} {noun}?
how about {pos} {noun}?
and what's {pos} {noun}?
ok, and {pos} {noun}?
what is {pos} {noun} then?
also, {pos} {noun}?
and do you know {pos} {noun}?
cool. {pos} {noun}?
"""
)
SWITCHES = lines(
    """
what about {ref}?
and {ref}?
same question for {ref}.
how about {ref}?
and what about {ref}
ok, now {ref}?
and for {ref}?
what about {ref} then?
now do {ref}.
and {ref}, same thing?
"""
)
SMALL_TALK = [
    tuple(pair.split(" | "))
    for pair in lines(
        """
hi | Hello! How can I help you today?
Hello there! | Hi! What would you like to know?
can you help me with some research? | Of course. What do you need?
I have a few questions. | Sure, go ahead.
hey, are you there? | Yes, I'm here. What can I do for you?
Good morning! | Good morning! What can I help you with?
I need some facts for a report. | Happy to help. What are you looking for?
ok let's start | Sounds good. What's your first question?
Hi, I'm putting together some notes. | Great, what do you need to know?
quick favour? | Sure, what is it?
"""
    )
]
PREAMBLES = [
    "",
    "",
    "",
    "",
    "hey, quick question: ",
    "Hi! ",
    "Hello, ",
    "Quick one: ",
    "I was wondering: ",
    "Sorry to bother you, but ",
    "ok so ",
    "Question: ",
    "Can you help? ",
    "hmm, ",
]
SUFFIXES = ["", "", "", "", "", " Thanks!", " thx", " Thank you.", " please", " :)"]

# Requirement-check user turns (overview questions and yes/no checks, {fact} ends with '.').
OVERVIEWS = [
    "Tell me about {name}.",
    "What do you know about {name}?",
    "Give me an overview of {name}.",
    "Can you summarise what you know about {name}?",
    "Describe {name} briefly.",
    "I'd like some background on {name}.",
    "Any info on {name}?",
    "Summarize the key facts about {name}.",
]
YESNO = [
    "Is it true that {fact}",
    "Can you confirm that {fact}",
    "Am I right that {fact}",
    "Quick check: {fact}",
    "I read that {fact} Is that correct?",
    "Is it correct that {fact}",
]
