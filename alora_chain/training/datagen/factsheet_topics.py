"""What fact sheets talk about: topics (a hotel, a ferry, a novel ...), their names and relations.

Each ``[topic]`` block: a header ``[key] noun | name pattern ; name pattern``, a ``flavour:``
line of number-free verb phrases (a rooftop bar, a rain cover) that pad a document as a person's
would, then one relation per line::

    key kind low-high/step | document phrases | reply phrases | questions

``kind``: ``n`` a number, ``y`` a year, ``p`` a person, ``t`` a town; ``{n}`` is the value in
every phrase, ``{s}`` the subject in questions. Phrases within a field are separated by ``;``.
Name patterns draw from the knowledge base's name pools (``{town}``, ``{surname}``, ``{first}``,
``{brand}``, ``{root}``), which are split by entity; whole topics are split 60/20/20 by their
position (:func:`alora_chain.training.datagen.kb.split_items`), so validation and test sheets are about
kinds of things, with relations and wording, that training never showed. Append new topics at
the end: inserting one moves the others across splits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    key: str
    kind: str  # n number, y year, p person, t town
    low: int
    high: int
    step: int
    states: tuple[str, ...]  # verb phrases a document states it with: "has {n} rooms"
    claims: tuple[str, ...]  # verb phrases a reply claims it with
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    key: str
    noun: str  # "the hotel": how a document refers back to its subject
    names: tuple[str, ...]
    flavour: tuple[str, ...]
    relations: tuple[Relation, ...]


_TOPICS = """
[hotel] hotel | the {town} Hotel ; Hotel {surname} ; the {surname} Arms
flavour: sits on the waterfront ; has a rooftop bar ; serves breakfast until eleven ; was renovated recently
opened y 1890-2020/1 | opened in {n} ; first opened its doors in {n} | opened in {n} ; has been open since {n} | When did {s} open? ; What year did {s} open?
rooms n 20-600/1 | has {n} rooms ; offers {n} guest rooms | has {n} rooms ; offers {n} rooms | How many rooms does {s} have?
staff n 15-400/5 | employs a staff of {n} ; has {n} staff | employs {n} people ; has a staff of {n} | How many staff work at {s}?
night n 60-450/5 | charges from {n} euros a night ; has doubles from {n} euros a night | costs from {n} euros a night ; charges {n} euros a night | How much is a night at {s}?
floors n 2-30/1 | spreads over {n} floors ; is {n} floors high | has {n} floors ; is {n} storeys tall | How many floors does {s} have?
[kettle] kettle | the {brand} K{n2} kettle ; the {brand} Boil {n2}
flavour: has a stainless steel body ; switches itself off when dry ; comes in four colours
litres n 1-3/1 | holds {n} litres ; has a {n}-litre jug | holds {n} litres ; has a {n}-litre capacity | How much water does {s} hold?
boil n 2-9/1 | boils a full jug in {n} minutes ; brings water to the boil in {n} minutes | boils water in {n} minutes ; takes {n} minutes to boil | How fast does {s} boil?
price n 19-149/1 | sells for {n} euros ; costs {n} euros | costs {n} euros ; sells for {n} euros | How much does {s} cost?
warranty n 1-5/1 | comes with a {n}-year warranty ; is guaranteed for {n} years | has a {n}-year warranty ; comes with a {n}-year guarantee | How long is the warranty on {s}?
watts n 1200-3000/100 | draws {n} watts ; has a {n}-watt element | uses {n} watts ; is rated at {n} watts | How powerful is {s}?
[bank] bank | {surname} Bank ; {root} Savings ; {town} Credit Union
flavour: offers free current accounts ; has a mobile app ; sponsors the local orchestra
founded y 1820-2010/1 | was founded in {n} ; dates back to {n} | was founded in {n} ; has existed since {n} | When was {s} founded?
branches n 3-900/1 | has {n} branches ; runs {n} branches | operates {n} branches ; has {n} branches | How many branches does {s} have?
employees n 50-20000/50 | employs about {n} people ; has some {n} employees | employs {n} people ; has {n} employees | How many people work for {s}?
headoffice t 0-0/1 | has its head office in {n} ; is headquartered in {n} | is headquartered in {n} ; is based in {n} | Where is {s} based?
founder p 0-0/1 | was set up by {n} ; was founded by {n} | was founded by {n} ; was set up by {n} | Who founded {s}?
[trail] trail | the {town} Trail ; the {town} Way ; the {town} cycle path
flavour: starts at the old station ; is waymarked in green ; passes a ruined abbey ; is closed in winter
length n 5-220/1 | is {n} km long ; runs for {n} km | is {n} km long ; covers {n} km | How long is {s}?
climb n 100-3000/50 | climbs {n} metres in all ; has {n} metres of ascent | climbs {n} metres ; involves {n} metres of climbing | How much climbing is on {s}?
villages n 2-14/1 | passes {n} villages ; links {n} villages | goes through {n} villages ; passes {n} villages | How many villages does {s} pass?
hours n 2-12/1 | takes about {n} hours on foot ; is a walk of about {n} hours | takes {n} hours ; can be walked in {n} hours | How long does {s} take?
opened y 1970-2022/1 | was opened in {n} ; was waymarked in {n} | opened in {n} ; was opened in {n} | When did {s} open?
[novel] novel | The {town} Letters ; {first}'s Winter ; The Last of the {surname}s
flavour: is set in a fishing town ; is told by three narrators ; was adapted for radio
published y 1950-2023/1 | was published in {n} ; came out in {n} | was published in {n} ; came out in {n} | When was {s} published?
author p 0-0/1 | was written by {n} ; is a novel by {n} | was written by {n} ; is by {n} | Who wrote {s}?
pages n 120-900/1 | runs to {n} pages ; has {n} pages | has {n} pages ; is {n} pages long | How long is {s}?
languages n 2-40/1 | has been translated into {n} languages ; appeared in {n} languages | has been translated into {n} languages ; is available in {n} languages | Into how many languages has {s} been translated?
copies n 10000-3000000/10000 | has sold {n} copies ; sold some {n} copies | has sold {n} copies ; sold {n} copies | How many copies has {s} sold?
[club] club | {town} Rovers ; {town} Otters ; {town} Athletic
flavour: plays in red and white ; runs a youth academy ; was promoted last season
founded y 1870-2015/1 | was founded in {n} ; was formed in {n} | was founded in {n} ; dates from {n} | When was {s} founded?
seats n 800-60000/100 | plays at a {n}-seat ground ; has a stadium of {n} seats | has a {n}-seat stadium ; plays in front of {n} seats | How big is the stadium of {s}?
coach p 0-0/1 | is coached by {n} ; has {n} as head coach | is coached by {n} ; has {n} as its coach | Who coaches {s}?
captain p 0-0/1 | is captained by {n} ; has {n} as captain | is captained by {n} ; has {n} as its captain | Who is the captain of {s}?
titles n 1-30/1 | has won {n} league titles ; has {n} titles to its name | has won {n} titles ; has {n} league titles | How many titles has {s} won?
[ferry] ferry | the {town} ferry ; the {town} crossing ; the ferry to {town}
flavour: leaves from the harbour steps ; carries bicycles for free ; has a small cafe on board
minutes n 10-180/5 | takes {n} minutes ; makes the crossing in {n} minutes | takes {n} minutes ; crosses in {n} minutes | How long does {s} take?
fare n 3-60/1 | costs {n} euros return ; has a return fare of {n} euros | costs {n} euros ; has a fare of {n} euros | How much does {s} cost?
sailings n 2-16/1 | sails {n} times a day ; runs {n} crossings a day | runs {n} times a day ; makes {n} crossings daily | How often does {s} run?
passengers n 40-1200/10 | carries up to {n} passengers ; takes {n} passengers | carries {n} passengers ; has room for {n} passengers | How many passengers does {s} carry?
cars n 10-300/5 | takes {n} cars ; has space for {n} cars | carries {n} cars ; takes {n} cars | How many cars fit on {s}?
[college] college | {town} College ; {surname} College ; {town} Academy
flavour: has a campus by the river ; runs evening classes ; has its own theatre
founded y 1800-2010/1 | was founded in {n} ; opened in {n} | was founded in {n} ; opened in {n} | When was {s} founded?
students n 300-40000/100 | has around {n} students ; teaches some {n} students | has {n} students ; enrols {n} students | How many students attend {s}?
programmes n 5-200/1 | offers {n} degree programmes ; runs {n} programmes | offers {n} programmes ; has {n} degree programmes | How many programmes does {s} offer?
teachers n 20-3000/10 | employs {n} teaching staff ; has {n} lecturers | has {n} teaching staff ; employs {n} lecturers | How many teachers does {s} employ?
principal p 0-0/1 | is led by {n} ; has {n} as its principal | is led by {n} ; is headed by {n} | Who leads {s}?
[car] car | the {brand} E{n2} ; the {brand} Volt {n2} ; the {brand} Strada
flavour: has a heat pump as standard ; comes with roof rails ; seats five adults
battery n 30-110/1 | has a {n} kWh battery ; carries a {n} kWh battery pack | has a {n} kWh battery ; uses a {n} kWh battery | How big is the battery of {s}?
range n 150-700/10 | has a range of {n} km ; goes {n} km on a charge | has a range of {n} km ; can drive {n} km on one charge | What is the range of {s}?
charge n 15-60/1 | charges from 10 to 80 percent in {n} minutes ; needs {n} minutes for a fast charge | charges in {n} minutes ; needs {n} minutes to charge | How quickly does {s} charge?
price n 18000-90000/100 | starts at {n} euros ; costs from {n} euros | costs {n} euros ; starts at {n} euros | How much does {s} cost?
speed n 120-260/5 | has a top speed of {n} km/h ; reaches {n} km/h | has a top speed of {n} km/h ; can reach {n} km/h | How fast can {s} go?
[mountain] mountain | Mount {surname} ; {town} Peak ; the {town} Horn
flavour: is often in cloud ; has a cross on its summit ; is popular with climbers
height n 600-4800/10 | rises {n} metres above sea level ; is {n} metres high | is {n} metres high ; stands {n} metres tall | How high is {s}?
route n 3-30/1 | has a {n} km route to the top ; is climbed by a path {n} km long | has a {n} km route to the summit ; can be climbed on a {n} km path | How long is the route up {s}?
ascent y 1780-1960/1 | was first climbed in {n} ; saw its first ascent in {n} | was first climbed in {n} ; was first scaled in {n} | When was {s} first climbed?
hut n 10-120/2 | has a hut that sleeps {n} ; offers {n} beds in its hut | has a hut for {n} people ; has {n} beds in its hut | How many people can sleep in the hut on {s}?
climbtime n 3-14/1 | takes about {n} hours to climb ; is a climb of {n} hours | takes {n} hours to climb ; can be climbed in {n} hours | How long does it take to climb {s}?
[museum] museum | the {town} Museum ; the {surname} Gallery ; the Museum of {town}
flavour: has a garden cafe ; is free on Sundays ; occupies an old mill
opened y 1850-2020/1 | opened in {n} ; was opened in {n} | opened in {n} ; has been open since {n} | When did {s} open?
visitors n 5000-900000/1000 | draws about {n} visitors a year ; welcomes {n} visitors a year | gets {n} visitors a year ; has {n} visitors a year | How many visitors does {s} get?
objects n 500-200000/100 | holds {n} objects ; has a collection of {n} objects | holds {n} objects ; owns {n} objects | How big is the collection of {s}?
ticket n 0-30/1 | charges {n} euros for entry ; has tickets at {n} euros | charges {n} euros ; costs {n} euros to enter | How much is a ticket for {s}?
director p 0-0/1 | is run by {n} ; has {n} as its director | is run by {n} ; is directed by {n} | Who is the director of {s}?
[phone] phone | the {brand} {n2} ; the {brand} Note {n2} ; the {brand} Mini {n2}
flavour: has a glass back ; comes in three colours ; supports wireless charging
screen n 5-7/1 | has a {n}-inch screen ; comes with a {n}-inch display | has a {n}-inch screen ; has a {n}-inch display | How big is the screen of {s}?
batteryhours n 12-48/1 | lasts {n} hours on a charge ; runs for {n} hours between charges | lasts {n} hours ; has a battery life of {n} hours | How long does the battery of {s} last?
grams n 140-260/1 | weighs {n} grams ; comes in at {n} grams | weighs {n} grams ; weighs {n} g | How heavy is {s}?
storage n 64-1024/64 | has {n} GB of storage ; stores {n} GB | has {n} GB of storage ; comes with {n} GB | How much storage does {s} have?
price n 199-1599/10 | costs {n} dollars ; sells for {n} dollars | costs {n} dollars ; is priced at {n} dollars | How much is {s}?
[festival] festival | the {town} Folk Festival ; the {town} Jazz Days ; {surname} Fest
flavour: takes place by the lake ; has a family field ; bans plastic cups
first y 1960-2020/1 | was first held in {n} ; began in {n} | started in {n} ; was first held in {n} | When did {s} start?
visitors n 2000-200000/500 | draws about {n} visitors ; attracts {n} people | draws {n} visitors ; attracts {n} people | How many people go to {s}?
stages n 2-12/1 | has {n} stages ; runs {n} stages | has {n} stages ; uses {n} stages | How many stages does {s} have?
days n 2-10/1 | lasts {n} days ; runs for {n} days | lasts {n} days ; goes on for {n} days | How long does {s} last?
ticket n 20-300/5 | sells weekend tickets for {n} euros ; charges {n} euros for a pass | costs {n} euros ; charges {n} euros for a ticket | How much is a ticket for {s}?
[company] company | {surname} Foods ; {root} Logistics ; {root} Textiles
flavour: supplies supermarkets across the country ; has its own training centre ; exports to Asia
founded y 1900-2018/1 | was founded in {n} ; started in {n} | was founded in {n} ; started in {n} | When was {s} founded?
employees n 20-15000/10 | employs {n} people ; has a workforce of {n} | employs {n} people ; has {n} staff | How many people work at {s}?
factories n 1-12/1 | runs {n} factories ; operates {n} plants | has {n} factories ; runs {n} plants | How many factories does {s} have?
sales n 2-900/1 | sold {n} million euros last year ; had sales of {n} million euros | had {n} million euros in sales ; sold {n} million euros | What were the sales of {s}?
ceo p 0-0/1 | is run by {n} ; has {n} as chief executive | is run by {n} ; is led by {n} | Who runs {s}?
[bridge] bridge | the {town} Bridge ; the {surname} Bridge ; the {town} viaduct
flavour: carries a cycle lane ; is lit up at night ; replaced an old ferry
length n 80-3000/10 | is {n} metres long ; spans {n} metres | is {n} metres long ; stretches {n} metres | How long is {s}?
opened y 1850-2020/1 | opened in {n} ; was completed in {n} | opened in {n} ; was finished in {n} | When did {s} open?
height n 10-250/1 | rises {n} metres above the water ; stands {n} metres high | is {n} metres high ; rises {n} metres | How tall is {s}?
cost n 5-900/1 | cost {n} million euros ; was built for {n} million euros | cost {n} million euros ; took {n} million euros to build | How much did {s} cost?
architect p 0-0/1 | was designed by {n} ; is the work of {n} | was designed by {n} ; was drawn up by {n} | Who designed {s}?
[restaurant] restaurant | {surname}'s Kitchen ; The {town} Table ; Cafe {surname}
flavour: has a terrace ; bakes its own bread ; is closed on Mondays
seats n 12-220/2 | seats {n} guests ; has {n} seats | seats {n} people ; has room for {n} guests | How many people does {s} seat?
opened y 1960-2023/1 | opened in {n} ; has been open since {n} | opened in {n} ; has been open since {n} | When did {s} open?
chef p 0-0/1 | has {n} as head chef ; is run in the kitchen by {n} | has {n} as its chef ; is cooked for by {n} | Who is the chef at {s}?
menu n 25-180/5 | serves a set menu at {n} euros ; has a tasting menu for {n} euros | has a menu at {n} euros ; charges {n} euros for its menu | How much is the menu at {s}?
tables n 4-60/1 | has {n} tables ; lays {n} tables | has {n} tables ; has room for {n} tables | How many tables does {s} have?
[airport] airport | {town} Airport ; {town} Airfield ; {surname} International
flavour: has a rail link to the centre ; runs a viewing terrace ; was expanded recently
opened y 1920-2015/1 | opened in {n} ; began flights in {n} | opened in {n} ; has been open since {n} | When did {s} open?
passengers n 1-60/1 | handles {n} million passengers a year ; served {n} million passengers last year | handles {n} million passengers ; serves {n} million passengers a year | How many passengers use {s}?
destinations n 10-300/1 | flies to {n} destinations ; offers flights to {n} destinations | serves {n} destinations ; flies to {n} places | How many destinations does {s} serve?
runways n 1-5/1 | has {n} runways ; operates {n} runways | has {n} runways ; uses {n} runways | How many runways does {s} have?
gates n 5-150/1 | has {n} gates ; counts {n} gates | has {n} gates ; operates {n} gates | How many gates does {s} have?
[film] film | The {town} Affair ; {first}'s Summer ; Night in {town}
flavour: was shot in black and white ; opens with a long storm scene ; was shown at several festivals
year y 1950-2023/1 | came out in {n} ; was released in {n} | came out in {n} ; was released in {n} | When did {s} come out?
director p 0-0/1 | was directed by {n} ; is a film by {n} | was directed by {n} ; is by {n} | Who directed {s}?
star p 0-0/1 | stars {n} ; has {n} in the lead role | stars {n} ; has {n} in the lead | Who stars in {s}?
runtime n 75-200/1 | runs {n} minutes ; is {n} minutes long | runs {n} minutes ; lasts {n} minutes | How long is {s}?
budget n 1-250/1 | cost {n} million dollars to make ; was made for {n} million dollars | cost {n} million dollars ; had a budget of {n} million dollars | What was the budget of {s}?
[hospital] hospital | {town} General Hospital ; {surname} Hospital ; {town} Infirmary
flavour: has a helicopter pad ; runs a teaching programme ; sits on a hill above the town
beds n 50-1500/10 | has {n} beds ; provides {n} beds | has {n} beds ; offers {n} beds | How many beds does {s} have?
staff n 200-9000/50 | employs {n} staff ; has a staff of {n} | employs {n} people ; has {n} staff | How many people work at {s}?
opened y 1850-2015/1 | opened in {n} ; was founded in {n} | opened in {n} ; was founded in {n} | When did {s} open?
wards n 4-60/1 | has {n} wards ; is divided into {n} wards | has {n} wards ; runs {n} wards | How many wards does {s} have?
theatres n 2-30/1 | has {n} operating theatres ; runs {n} operating theatres | has {n} operating theatres ; operates {n} theatres | How many operating theatres does {s} have?
[band] band | The {surname}s ; {town} Lights ; The {first} Collective
flavour: started out in a garage ; tours every autumn ; records in a converted church
formed y 1960-2020/1 | formed in {n} ; got together in {n} | was formed in {n} ; formed in {n} | When did {s} form?
albums n 1-25/1 | has released {n} albums ; has put out {n} albums | has made {n} albums ; has released {n} albums | How many albums has {s} released?
singer p 0-0/1 | is fronted by {n} ; has {n} on vocals | is fronted by {n} ; has {n} as its singer | Who sings in {s}?
guitarist p 0-0/1 | has {n} on guitar ; features {n} on guitar | has {n} on guitar ; has {n} as guitarist | Who plays guitar in {s}?
members n 3-9/1 | has {n} members ; is a {n}-piece band | has {n} members ; is a {n}-piece | How many members does {s} have?
[lake] lake | Lake {town} ; {town} Water ; Loch {surname}
flavour: freezes over most winters ; has a sailing club ; is ringed by pine forest
area n 1-90/1 | covers {n} square km ; has an area of {n} square km | covers {n} square km ; is {n} square km in area | How big is {s}?
depth n 8-300/1 | is {n} metres deep ; reaches a depth of {n} metres | is {n} metres deep ; has a depth of {n} metres | How deep is {s}?
shore n 4-120/1 | has a shoreline of {n} km ; is ringed by {n} km of shore | has {n} km of shoreline ; has a {n} km shore | How long is the shore of {s}?
islands n 1-40/1 | holds {n} islands ; has {n} islands | has {n} islands ; contains {n} islands | How many islands are in {s}?
altitude n 50-2500/10 | lies {n} metres above sea level ; sits at {n} metres | lies at {n} metres ; is {n} metres above sea level | How high is {s}?
[laptop] laptop | the {brand}Book {n2} ; the {brand} Slate {n2} ; the {brand} Studio {n2}
flavour: has a backlit keyboard ; comes with a fingerprint reader ; is made of recycled aluminium
screen n 11-17/1 | has a {n}-inch display ; comes with a {n}-inch screen | has a {n}-inch screen ; has a {n}-inch display | How big is the screen of {s}?
kilos n 1-3/1 | weighs {n} kg ; comes in at {n} kg | weighs {n} kg ; weighs {n} kilos | How heavy is {s}?
ram n 8-64/8 | has {n} GB of memory ; ships with {n} GB of RAM | has {n} GB of RAM ; comes with {n} GB of memory | How much memory does {s} have?
batteryhours n 6-24/1 | lasts {n} hours on battery ; runs {n} hours unplugged | lasts {n} hours ; has a battery life of {n} hours | How long does the battery of {s} last?
price n 499-3499/10 | costs {n} euros ; sells for {n} euros | costs {n} euros ; is priced at {n} euros | How much is {s}?
"""


def _relation(line: str) -> Relation:
    head, states, claims, questions = (field.strip() for field in line.split("|"))
    key, kind, span = head.split()
    bounds, step = span.split("/")
    low, high = bounds.split("-")
    split = lambda field: tuple(p.strip() for p in field.split(";"))  # noqa: E731
    return Relation(key, kind, int(low), int(high), int(step), split(states), split(claims), split(questions))


def _topics(text: str) -> list[Topic]:
    topics = []
    for block in text.strip().split("\n["):
        header, flavour, *relations = block.strip().lstrip("[").splitlines()
        key_noun, names = header.split("|")
        key, noun = key_noun.replace("]", "").split()
        topics.append(Topic(
            key, noun, tuple(n.strip() for n in names.split(";")),
            tuple(p.strip() for p in flavour.removeprefix("flavour:").split(";")),
            tuple(_relation(line) for line in relations),
        ))
    return topics


TOPICS: list[Topic] = _topics(_TOPICS)
