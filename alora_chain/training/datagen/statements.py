"""Assistant/document-side templates: fact sentences per attribute, padding, reply frames.

Same conventions as :mod:`alora_chain.training.datagen.phrasing` (placeholders, ids by position, append only).
"""

from __future__ import annotations

from .kb import MONTHS
from .phrasing import blocks, lines

FACTS = blocks(
    """
[birth_year]
{name} was born in {value}.
{name} was born in the year {value}.
{pos} birth year is {value}.
{pos} year of birth is {value}.
{name} came into the world in {value}.
Records list {pos} birth year as {value}.
[city]
{name} lives in {value}.
{name} is based in {value}.
{name} currently lives in {value}.
{name} resides in {value}.
{pos} home is in {value}.
{name} has made {value} {pos} home.
[profession]
{name} works as {value}.
{name} is {value}.
{name} is {value} by profession.
By profession, {name} is {value}.
{name} earns a living as {value}.
{name} is employed as {value}.
[employer]
{name} works for {value}.
{name} is employed by {value}.
{pos} employer is {value}.
{name} works at {value}.
{value} employs {obj}.
{name} is on the staff of {value}.
[price]
{name} costs {value}.
{name} sells for {value}.
{name} is priced at {value}.
{pos} retail price is {value}.
{name} retails for {value}.
You can buy {obj} for {value}.
[battery]
{name} has a battery life of {value}.
{pos} battery lasts {value}.
{name} runs for {value} on a single charge.
On one charge, {name} lasts {value}.
{name} offers {value} of battery life.
{pos} battery is rated for {value}.
[weight]
{name} weighs {value}.
{pos} weight is {value}.
{name} tips the scales at {value}.
{name} has a weight of {value}.
{name} comes in at {value}.
The weight of {obj} is {value}.
[colour]
{name} comes in {value}.
{name} is available in {value}.
{pos} colour is {value}.
{name} is sold in {value}.
{name} has a {value} finish.
The only colour option for {obj} is {value}.
[release_year]
{name} was released in {value}.
{name} came out in {value}.
{name} launched in {value}.
{pos} release year is {value}.
{name} first went on sale in {value}.
{name} hit the shelves in {value}.
[population]
{name} has a population of {value}.
{name} is home to {value} people.
About {value} people live in {obj}.
{pos} population is {value}.
{name} has {value} residents.
{name} counts {value} inhabitants.
[river]
{name} lies on {value}.
{value} flows through {obj}.
{value} runs through {obj}.
{name} is built along {value}.
{name} sits on the banks of {value}.
The river that passes through {obj} is {value}.
[founded]
{name} was founded in {value}.
{name} was established in {value}.
{pos} founding year is {value}.
{name} has existed since {value}.
{name} dates back to {value}.
{name} got its start in {value}.
[headquarters]
{name} is headquartered in {value}.
{pos} headquarters are in {value}.
{name} has its head office in {value}.
{name} is based in {value}.
{pos} main office is located in {value}.
{value} is home to {pos} headquarters.
[ceo]
{name} is run by {value}.
{pos} CEO is {value}.
{value} is the CEO of {obj}.
{name} is led by chief executive {value}.
{value} heads {obj}.
The chief executive of {obj} is {value}.
[employees]
{name} employs {value} people.
{name} has {value} employees.
{pos} workforce numbers {value}.
{name} has a staff of {value}.
Around {value} people work at {obj}.
{pos} headcount is {value}.
[month]
{name} is held every {value}.
{name} takes place in {value}.
{name} happens each {value}.
Every year, {name} runs in {value}.
{name} is an annual event in {value}.
{pos} dates fall in {value}.
[first_held]
{name} was first held in {value}.
{name} started in {value}.
The first edition of {obj} took place in {value}.
{name} has been running since {value}.
{name} began in {value}.
{name} debuted in {value}.
[visitors]
{name} attracts {value} visitors.
{name} draws about {value} visitors each year.
{pos} attendance is around {value}.
Some {value} people attend {obj} every year.
{name} welcomes {value} visitors annually.
Around {value} people visit {obj}.
"""
)


# Sentences that mention an entity without stating any asked-about attribute (doc padding).
NEUTRAL = blocks(
    """
[person]
{name} is known among colleagues for a calm, careful approach.
{name} volunteers at a local library on weekends.
{name} has given talks at several regional conferences.
{name} enjoys long walks and old films.
{name} describes the job as demanding but rewarding.
[product]
{name} has received mixed reviews online.
Reviewers praised {pos} display.
{name} is aimed at everyday users.
{name} ships with a short user guide.
Many buyers pick {obj} as a gift.
[town]
{name} has a weekly farmers' market.
Visitors often mention {pos} old stone bridge.
{name} is known for its quiet streets.
{name} has a small local museum.
Tourism in {obj} has grown in recent years.
[company]
{name} has won several industry awards.
{name} recently opened a training centre.
{name} is known for flexible working hours.
Analysts follow {obj} closely.
{name} publishes an annual report every spring.
[event]
{name} features local food stalls.
Volunteers help organise {obj}.
{name} is popular with families.
Tickets for {obj} often sell out early.
{name} ends with a fireworks show.
"""
)

# How an assistant wraps a fact sentence ({fact}) or a bare value ({value}).
REPLY_FRAMES = lines(
    """
{fact}
Sure! {fact}
According to the documents, {fact_lc}
Based on the information provided, {fact_lc}
{fact} Let me know if you need anything else.
Good question. {fact}
From what I can see, {fact_lc}
The documents say that {fact_lc}
It looks like {fact_lc}
{fact} Hope that helps!
Here is what I found: {fact_lc}
{fact} Anything else you would like to know?
Happy to help. {fact}
As far as I can tell, {fact_lc}
Okay, so {fact_lc}
"""
)
SHORT_FRAMES = lines(
    """
{value}.
It's {value}.
The answer is {value}.
That would be {value}.
{value}, according to the documents.
Looks like {value}.
I believe it's {value}.
{value}, as far as I can tell.
Answer: {value}.
It is {value}.
"""
)


# Requirement-check replies: openers and closers, and French facts for the language checks.
OPENERS = [
    "Sure.",
    "Here is what I know.",
    "Good question.",
    "Happy to help.",
    "Certainly.",
    "Here is a quick summary.",
    "Sure, here you go.",
    "Of course.",
]
CLOSERS = [
    "Let me know if you need more details.",
    "I hope this helps.",
    "Feel free to ask a follow-up question.",
    "That is all I have on this.",
]
QUESTION_CLOSERS = [
    "Would you like more details?",
    "Is there anything else you want to know?",
    "Shall I look up anything else?",
    "Do you want a comparison with others?",
]
FR_FACTS = {
    "birth_year": "{name} est né en {v}.",
    "city": "{name} habite à {v}.",
    "employer": "{name} travaille chez {v}.",
    "price": "{name} coûte {v}.",
    "battery": "La batterie de {name} tient {v} heures.",
    "weight": "{name} pèse {v} grammes.",
    "release_year": "{name} est sorti en {v}.",
    "population": "{name} compte {v} habitants.",
    "river": "{name} est situé au bord de la rivière {v}.",
    "founded": "{name} a été fondé en {v}.",
    "headquarters": "Le siège de {name} se trouve à {v}.",
    "ceo": "{name} est dirigé par {v}.",
    "employees": "{name} emploie {v} personnes.",
    "month": "{name} a lieu chaque année en {v}.",
    "first_held": "{name} a eu lieu pour la première fois en {v}.",
    "visitors": "{name} attire environ {v} visiteurs.",
}
FR_MONTHS = dict(
    zip(
        MONTHS,
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
        strict=True,
    )
)
FR_OPENERS = ["Bien sûr !", "Voici ce que je sais.", "Bonne question.", "Avec plaisir."]
FR_CLOSERS = [
    "J'espère que cela vous aide.",
    "N'hésitez pas si vous avez d'autres questions.",
    "Bonne journée !",
]
