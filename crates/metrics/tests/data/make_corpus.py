#!/usr/bin/env python3
"""Writes the deterministic test corpus of peftgrid-metrics (standard library only).

    python3 crates/metrics/tests/data/make_corpus.py

Outputs, next to this script:
  corpus.jsonl  one {"id", "lang", "hyp", "ref"} object per line: hand-written English and
                Romanian pairs (punctuation, numbers, Unicode quotes/dashes, accents, CJK,
                emoji, empty sides, multi-line summaries, Porter special cases, cedilla and
                comma-below diacritics) followed by seeded synthetic pairs.
  strings.json  {"porter_words": [...], "fuzz_lines": [...]}: words for the stemmer and
                random lines over an adversarial alphabet for the tokenisers/normalisers.
  glue.json     classification and regression sets (with ties and degenerate cases).

Everything comes from a fixed seed, so re-running reproduces the files byte for byte.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20260124)

# ---------------------------------------------------------------------------
# Hand-written English pairs: (hyp, ref)
# ---------------------------------------------------------------------------
EN = [
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("The cat is on the mat.", "There is a cat on the mat."),
    ("the quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."),
    ("", "A reference with no hypothesis."),
    ("A hypothesis with no reference.", ""),
    ("", ""),
    ("   ", "whitespace only hypothesis"),
    ("It cost $1,000.50 in 2024, up 3-4% from 1,000.5.", "It cost 1,000.5 dollars in 2024 (up 3-4 percent)."),
    ("Numbers: 3.14, 2,718 and -42; ranges 10-20, 5--6.", "Numbers 3.14 , 2,718 and - 42 ; ranges 10 - 20"),
    ("He said “hello” — and left…", "He said \"hello\" - and then he left..."),
    ("She’s the ‘best’ player, isn’t she?", "She's the 'best' player, isn't she?"),
    ("Café naïve résumé coöperate façade", "Cafe naive resume cooperate facade"),
    ("東京は日本の首都です。", "東京は日本の首都である。"),
    ("中文，测试：你好！", "中文测试你好"),
    ("I love pizza 🍕🍕 and 👍🏽 emoji 😀!", "I love pizza 🍕 and emoji 😀 !"),
    ("generously dying skies news sky agreed happiness relational",
     "generous die sky news skies agree happy relate"),
    ("The innings were lying and tying; outings, cannings, howe.",
     "The inning was lie and tie; outing, canning, howe."),
    ("We proceed, exceed and succeed; proceeding exceeded succeeded.",
     "They proceeded to exceed and succeeded."),
    ("caresses ponies ties caress cats feed agreed plastered bled motoring sing",
     "caress poni ti caress cat fee agree plaster bled motor sing"),
    ("conflated troubled sized hopping tanned falling hissing fizzed failing filing",
     "conflate trouble size hop tan fall hiss fizz fail file"),
    ("happy sky conditional rational valenci hesitanci digitizer conformabli",
     "happi sky condition rational valence hesitance digitize conformable"),
    ("radicalli differentli vileli analogousli vietnamization predication operator",
     "radical different vile analogous vietnamize predicate operate"),
    ("feudalism decisiveness hopefulness callousness formaliti sensitiviti sensibiliti",
     "feudal decisive hopeful callous formal sensitive sensible"),
    ("triplicate formative formalize electriciti electrical hopeful goodness",
     "triplic form formal electric electric hope good"),
    ("revival allowance inference airliner gyroscopic adjustable defensible irritant",
     "reviv allow infer airlin gyroscop adjust defens irrit"),
    ("replacement adjustment dependent adoption homologou communism activate angulariti",
     "replac adjust depend adopt homolog commun activ angular"),
    ("homologous effective bowdlerize probate rate cease controll roll",
     "homolog effect bowdler probat rate ceas control roll"),
    ("spied died flies dies spy fly try enjoy enjoyment geology theology archaeology",
     "spi die fli die spi fli tri enjoy enjoy geolog theolog archaeolog"),
    ("fully hopefully carefully generally really ideally finally",
     "full hope care general real ideal final"),
    ("yyyy yay yoyo syzygy toy boy employ employees playing", "toy boy employ employee play"),
    ("The first sentence of the summary.\nA second sentence follows here.\nAnd a third one.",
     "The first sentence of the summary.\nThe second sentence follows.\nA third one."),
    ("Police arrested a man.\nHe was charged with theft.",
     "A man was arrested by police on Monday.\nThe man was charged with theft and fraud.\nHe denies it."),
    ("one two three\n\nfour five six\n", "one two\nthree four\nfive six"),
    ("\n\n\n", "only newlines in the hypothesis"),
    ("Tabs\tand\tspaces   and  nbsp\u00a0here.", "Tabs and spaces and nbsp here."),
    ("File\x1cseparators\x1dare\x1eunicode\x1fspaces in Python", "File separators are unicode spaces in Python"),
    ("HTML entities &amp; &quot;quoted&quot; &lt;tag&gt; &amp;lt; end",
     "HTML entities & \"quoted\" <tag> &lt; end"),
    ("A skipped<skipped> token and a hyphen-\nated word.", "A skipped token and a hyphenated word."),
    ("İstanbul KELVIN 5K and ǅ digraph", "istanbul kelvin 5k and dz digraph"),
    ("e-mail: john.doe@example.com, url: https://example.org/a/b?c=d&e=f",
     "email john.doe@example.com url https://example.org/a/b"),
    ("C++ and C# are languages; so is F#.", "C++ and C# are programming languages."),
    ("The U.S.A. and U.K. signed it on Jan. 5, 2020.", "The USA and the UK signed it on January 5, 2020."),
    ("Mr. Smith (the CEO) said: \"We're done.\"", "Mr Smith, the CEO, said \"we are done\"."),
    ("Wait... what?! No way!!!", "Wait, what? No way!"),
    ("50% of 1/2 is 25%; 3/4 is 0.75.", "Half of 50 percent is 25 percent."),
    ("He scored 10,000 points — a record!", "He scored ten thousand points, a record."),
    ("a b c d e f g h i j", "a b c d e f g h i j"),
    ("a", "a"),
    ("a", "b"),
    ("repeat repeat repeat repeat repeat", "repeat"),
    ("the the the the the the the", "the cat is on the mat"),
    ("word", "word word word word word word"),
    ("Short.", "This reference is a good deal longer than the hypothesis is."),
    ("This hypothesis is a good deal longer than the reference is, by far.", "Short."),
    ("Ünïcödé ÀÉÎÕÜ ßharp straße", "Unicode AEIOU sharp strasse"),
    ("Zero\u200bwidth\u200dspace and soft\u00adhyphen", "Zero width space and soft hyphen"),
    ("Ω≈ç√∫ ≤≥÷ ¡™£¢∞§¶•ªº", "Omega approx"),
    ("Rock 'n' roll isn't dead, y'all.", "Rock and roll is not dead, you all."),
    ("2024-01-15T10:30:00Z was the time-stamp.", "The timestamp was 2024-01-15 10:30."),
    ("Email from alice@example.com at 9:45 a.m.", "Email from alice at 9:45 am."),
    ("Final answer: (B), [C], {D}, <E>.", "Final answer : B , C , D , E ."),
    ("The end.", "The end."),
]

# ---------------------------------------------------------------------------
# Hand-written Romanian pairs (cedilla ş ţ Ş Ţ and comma-below ș ț Ș Ț mixed)
# ---------------------------------------------------------------------------
RO = [
    ("Aceasta este o propoziţie în limba română.", "Aceasta este o propoziție în limba română."),
    ("Ştiinţa şi tehnologia sunt importante.", "Știința și tehnologia sunt importante."),
    ("ŞTIINŢĂ, ŢARĂ, ÎNTÂI, ÂNCĂ", "ȘTIINȚĂ, ȚARĂ, ÎNTÂI, ÂNCĂ"),
    ("Dl. Popescu a spus că ţara are nevoie de reforme.", "Domnul Popescu a spus că țara are nevoie de reforme."),
    ("D-na Ionescu şi dl. Georgescu au sosit.", "Doamna Ionescu și domnul Georgescu au sosit."),
    ("Preţul a crescut cu 3,5% în 2023 (de la 1.000 lei).", "Prețul a crescut cu 3,5 % în 2023, de la 1 000 lei."),
    ("„Nu ştiu”, a răspuns el.", "\"Nu știu\", a răspuns el."),
    ("«Bună ziua», a zis ea.", "\"Bună ziua\", a spus ea."),
    ("Guvernul a adoptat ordonanţa nr. 5 din 2020, art. 3.", "Guvernul a adoptat ordonanța nr. 5 din 2020, articolul 3."),
    ("etc. şamd. dvs. pt. M.Ap.N. sunt abrevieri", "etc. șamd. Dvs. Pt. M.Ap.N. sunt abrevieri"),
    ("Parlamentul European a votat ieri.", "Parlamentul European a votat astăzi."),
    ("Ce mai faci? Bine, mulţumesc!", "Ce mai faci? Bine, mulțumesc!"),
    ("Românii îşi aleg preşedintele în noiembrie.", "Românii își aleg președintele în noiembrie."),
    ("Bucureşti, Timişoara, Iaşi şi Cluj-Napoca", "București, Timișoara, Iași și Cluj-Napoca"),
    ("Ţiriac şi Năstase au jucat tenis.", "Țiriac și Năstase au jucat tenis."),
    ("Într-o zi, într-un an, dintr-o dată...", "Într-o zi, într-un an, dintr-o dată…"),
    ("El a spus: \"Vom vedea\".", "El a spus: „Vom vedea”."),
    ("Suma de 1\u00a0000\u00a0000 euro a fost alocată.", "Suma de 1.000.000 euro a fost alocată."),
    ("Temperatura este de 25\u00a0ºC azi\u00a0!", "Temperatura este de 25 ºC azi!"),
    ("Programul (început în 2019 ) continuă .", "Programul (început în 2019) continuă."),
    ("Comisia a cerut – din nou — explicaţii.", "Comisia a cerut - din nou - explicații."),
    ("A fost o decizie `corectă'' şi ''justă''.", "A fost o decizie corectă și justă."),
    ("Nu-i aşa? N-am ştiut că l-ai văzut.", "Nu-i așa? N-am știut că l-ai văzut."),
    ("Acesta e un test cu apostrof: d'Artagnan l'a spus.", "Acesta e un test cu apostrof d'Artagnan l-a spus."),
    ("Ministrul Finanţelor, dl. Ion Popa, a demisionat.", "Ministrul Finanțelor, Ion Popa, a demisionat."),
    ("Vezi pag. 12 şi cap. III, p. 45.", "Vezi pagina 12 și capitolul III, pagina 45."),
    ("Întâlnirea a avut loc la ora 14:30 ; apoi , pauză .", "Întâlnirea a avut loc la ora 14:30; apoi, pauză."),
    ("Ministerul Afacerilor Externe (MAE) a transmis un comunicat.", "MAE a transmis un comunicat."),
    ("", "Referinţă fără ipoteză."),
    ("Ipoteză fără referinţă.", ""),
    ("Ăsta, ăla, acela; Â şi â; Î şi î.", "Asta, ala, acela; A si a; I si i."),
    ("ȘȚșțŞŢşţĂăÂâÎî", "SSTTsstt AaAaIi"),
    ("Uniunea Europeană (UE) are 27 de state membre.", "UE are 27 de state membre."),
    ("Rata şomajului a scăzut la 5,6%.", "Rata șomajului a scăzut la 5,6 %."),
    ("Poliţia a reţinut doi suspecţi.\nAceştia au fost arestaţi.", "Poliția a reținut doi suspecți.\nEi au fost arestați preventiv."),
    ("Primăria Capitalei: „Lucrările se vor termina în 2025”.", "Primăria Capitalei spune că lucrările se vor termina în 2025."),
    ("Nr. 7, Str. Lungă, Bl. A2, Sc. B, Ap. 13", "Numărul 7, Strada Lungă, Blocul A2, Scara B, Apartamentul 13"),
    ("Copiii învaţă matematică, fizică şi chimie.", "Copiii învață matematică, fizică și chimie."),
    ("O sută de mii (100.000) de oameni au protestat!", "100 000 de oameni au protestat."),
    ("Premierul a declarat că \"situaţia e sub control\".", "Premierul a declarat că situația este sub control."),
    ("Câştigătorul va primi 10.000 de lei.", "Câștigătorul va primi 10 000 de lei."),
    ("Ce-ţi doreşti de Crăciun?", "Ce îți dorești de Crăciun?"),
    ("Acum câţiva ani... totul era diferit.", "Acum câțiva ani, totul era diferit."),
    ("1. Introducere\n2. Metode\n3. Rezultate", "1. Introducere\n2. Metodologie\n3. Rezultate"),
    ("Veniturile au crescut cu 12 % faţă de anul trecut.", "Veniturile au crescut cu 12% față de anul trecut."),
    ("Şedinţa Consiliului Local a fost amânată .", "Ședința Consiliului Local a fost amânată."),
    ("Aţi văzut filmul? Da , l-am văzut !", "Ați văzut filmul? Da, l-am văzut!"),
    ("Autorităţile au emis o avertizare de cod roşu.", "Autoritățile au emis o avertizare de cod roșu."),
    ("Ţineţi cont de recomandări: (1) hidrataţi-vă; (2) evitaţi soarele.", "Țineți cont de recomandări: hidratați-vă și evitați soarele."),
    ("Echipa naţională a câştigat cu 2-1.", "Echipa națională a câștigat cu 2 - 1."),
    ("Preşedintele Iohannis a promulgat legea.", "Președintele Iohannis a promulgat legea."),
    ("Universitatea din Bucureşti, fondată în 1864, e cea mai veche.", "Universitatea din București a fost fondată în 1864."),
    ("Pe 1 Decembrie sărbătorim Ziua Naţională a României.", "Pe 1 decembrie sărbătorim Ziua Națională a României."),
    ("Mulţumim pentru atenţie!!!", "Mulțumim pentru atenție!"),
    ("Textul conţine ghilimele ‚simple‘ şi ‹unghiulare›.", "Textul conține ghilimele simple și unghiulare."),
    ("Un studiu (publicat în Nature) arată că…", "Un studiu publicat în Nature arată că..."),
    ("Bugetul pe 2024: 500 mld. lei, adică ~100 mld. €.", "Bugetul pe 2024 este de 500 de miliarde de lei."),
    ("Dvs. aţi sunat? Pt. informaţii, sunaţi la 021/123.45.67.", "Dvs. ați sunat? Pentru informații sunați la 021 123 45 67."),
    ("ŢĂRANII ŞI ORĂŞENII", "ȚĂRANII ȘI ORĂȘENII"),
    ("Se spune că \"Dl.\" e o abreviere, iar \"Dr.\" la fel.", "Se spune că Dl. e o abreviere."),
]

# ---------------------------------------------------------------------------
# Synthetic pairs: a reference drawn from a vocabulary, the hypothesis a perturbation
# ---------------------------------------------------------------------------
EN_VOCAB = (
    "the a an of to in on for with by from at as is was were be been being have has had "
    "model models training trained trains evaluation evaluate evaluating results result "
    "generously dying skies news sky agreed happiness relational running runner runs ran "
    "happily conditional national nationalism relation relations relative relatively "
    "adapter adapters parameter parameters efficient efficiently fine tuning tuned tunes "
    "summary summaries summarize summarized summarization sentence sentences translation "
    "translate translated translating hopeful hopefully hopefulness generalization generalize "
    "policy policies police policeman cities city citizen citizens agreement agreements "
    "controlling controlled controller rolling rolled goodness electrical electricity "
    "university universities universal universe announce announced announcement innings "
    "proceeded proceed exceed exceeding succeeded succeeding lying tying news howe outings"
).split()
EN_EXTRA = ["1,000.5", "3-4", "42", "3.14", "2024", "—", "“quoted”", "(aside)", "e.g.", "U.S.", "café",
            "naïve", "東京", "😀", "&amp;", "50%", "A/B", "x+y", "it's", "don't", "...", "!", "?"]
RO_VOCAB = (
    "și şi în la de cu pe pentru că este sunt a fost au fi care mai din nu se o un "
    "guvernul parlamentul țara ţara românia române românii președintele preşedintele "
    "legea legii ministrul ministerul ședința şedinţa reforma reformele economia "
    "bucurești bucureşti timișoara iaşi științe ştiinţe tehnologie țărani ţărani "
    "prețul preţul crescut scăzut anul trecut astăzi ieri mâine întâi până când "
    "Ștefan Ştefan Țepeș Ţepeş Ănescu Îndrumar Ârsenie"
).split()
RO_EXTRA = ["dl.", "Dl.", "nr.", "art.", "etc.", "d-na", "„citat”", "«vorbă»", "3,5%", "1\u00a0000",
            "10.000", "2-1", "...", "…", "(UE)", "!", "?", "–", "—"]


def synth_sentence(vocab, extra, lo, hi):
    n = rng.randint(lo, hi)
    words = []
    for _ in range(n):
        if rng.random() < 0.12:
            words.append(rng.choice(extra))
        else:
            words.append(rng.choice(vocab))
    s = " ".join(words)
    s = s[0].upper() + s[1:]
    return s + rng.choice([".", ".", ".", "!", "?", ""])


def perturb(sentence, vocab):
    words = sentence.split(" ")
    out = []
    for w in words:
        r = rng.random()
        if r < 0.08:
            continue  # drop
        if r < 0.18:
            out.append(rng.choice(vocab))  # substitute
            continue
        out.append(w)
        if rng.random() < 0.05:
            out.append(rng.choice(vocab))  # insert
    if len(out) > 3 and rng.random() < 0.3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def synth_pair(lang):
    vocab, extra = (EN_VOCAB, EN_EXTRA) if lang == "en" else (RO_VOCAB, RO_EXTRA)
    k = rng.choice([1, 1, 1, 2, 3])  # number of sentences (newline-separated)
    refs = [synth_sentence(vocab, extra, 3, 18) for _ in range(k)]
    hyps = [perturb(s, vocab) for s in refs]
    if k > 1 and rng.random() < 0.3:
        hyps = hyps[::-1]
    if lang == "ro" and rng.random() < 0.5:
        # mix the two diacritic conventions between hypothesis and reference
        table = str.maketrans("șțȘȚ", "şţŞŢ")
        hyps = [h.translate(table) for h in hyps]
    return "\n".join(hyps), "\n".join(refs)


pairs = []
for hyp, ref in EN:
    pairs.append({"lang": "en", "hyp": hyp, "ref": ref})
for hyp, ref in RO:
    pairs.append({"lang": "ro", "hyp": hyp, "ref": ref})
for i in range(90):
    hyp, ref = synth_pair("en")
    pairs.append({"lang": "en", "hyp": hyp, "ref": ref})
for i in range(50):
    hyp, ref = synth_pair("ro")
    pairs.append({"lang": "ro", "hyp": hyp, "ref": ref})

with open(os.path.join(HERE, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for i, p in enumerate(pairs):
        f.write(json.dumps({"id": i, **p}, ensure_ascii=False) + "\n")

# ---------------------------------------------------------------------------
# Strings: Porter words and fuzz lines
# ---------------------------------------------------------------------------
PORTER_SPECIAL = [
    "sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings", "outing",
    "cannings", "canning", "howe", "proceed", "exceed", "succeed", "generously", "agreed",
    "happiness", "relational", "conditional", "rational", "feed", "dies", "flies", "died",
    "spied", "ties", "tie", "bled", "sing", "hopping", "falling", "hissing", "fizzed",
    "failing", "filing", "happy", "enjoy", "spy", "fly", "try", "radically", "generalli",
    "geology", "theology", "logi", "ology", "archaeology", "hopefulli", "fully", "controll",
    "roll", "cease", "rate", "probate", "syzygy", "yyyy", "yy", "y", "yes", "toy", "ay",
    "a", "an", "is", "as", "us", "ss", "sss", "ies", "eed", "ed", "ing", "ation", "ational",
    "alli", "bli", "abli", "analli", "ealli", "alliance", "eying", "sying", "ying", "dying",
    "abilities", "generalizations", "oscillators", "traditional", "conflated", "sized",
]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SUFFIXES = ["s", "es", "ies", "sses", "ss", "ed", "eed", "ied", "ing", "y", "ational", "tional",
            "enci", "anci", "izer", "bli", "alli", "entli", "eli", "ousli", "ization", "ation",
            "ator", "alism", "iveness", "fulness", "ousness", "aliti", "iviti", "biliti", "fulli",
            "logi", "icate", "ative", "alize", "iciti", "ical", "ful", "ness", "al", "ance",
            "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "sion",
            "tion", "ou", "ism", "ate", "iti", "ous", "ive", "ize", "e", "ll", "ly"]
porter_words = list(PORTER_SPECIAL)
for w in EN_VOCAB:
    porter_words.append(w.lower())
for _ in range(1500):
    stem_len = rng.randint(1, 7)
    stem = "".join(rng.choice(LETTERS + "aeiouy" * 3) for _ in range(stem_len))
    word = stem + "".join(rng.choice(SUFFIXES) for _ in range(rng.randint(0, 2)))
    porter_words.append(word)
for _ in range(200):
    porter_words.append("".join(rng.choice("aeiouylsz") for _ in range(rng.randint(1, 9))))
seen = set()
porter_words = [w for w in porter_words if not (w in seen or seen.add(w))]

FUZZ_ALPHABET = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list("      ...,,,''\"\"--`´()[]{}<>!?;:%&|/@#$*+=^_~\\")
    + list("ăâîșțşţĂÂÎȘȚŞŢ„“”‘’‚«»–—…，。、：？！（）；「」０１９．～━〈〉【】％∶《》")
    + ["\u00a0", "\t", "\n", "\r", "\x1c", "\x0b", "\u2028", "\u3000", "\u200b", "\u200d",
       "\u00ad", "\x07", "\x7f", "º", "nº", "ºC", "cm", "DOT", "MULTI", "DOTMULTI", "N'T", "'s",
       "Dl", "etc", "pt", "M.Ap.N", "d-na", "<skipped>", "&quot;", "&amp;", "&lt;", "&gt;",
       "東", "京", "😀", "👍🏽", "é", "e\u0301", "٣", "²", "½", "İ", "K"]
)


def fuzz_line():
    n = rng.randint(0, 40)
    return "".join(rng.choice(FUZZ_ALPHABET) for _ in range(n))


# Multi-character pieces that the Moses normaliser/tokeniser and 13a rules look for.
FUZZ_PIECES = [
    "nº\u00a0", "\u00a0ºC", "\u00a0cm", "\u00a0%", "\u00a0:", "\u00a0?", "\u00a0!", "\u00a0;",
    ",\u00a0", "\u00a0«\u00a0", "\u00a0»\u00a0", "«\u00a0", "\u00a0»", "1\u00a02", "٣\u00a0٤",
    ") .", ") ,", ")!", "( ", " )", "5 %", "٣ %", " :", " ;", "a‘b", "a’b", "’s", "''", "``",
    "´´", "。 ", "．\t", "..", "....", ". . .", "'s ", "Dl. Popescu", "dl. popescu", "etc. ",
    "a.b. ", "N. ", "N. 5", ".' ", ".'", "DOTDOTMULTI", ",5", "5,", "5,000", "a,b", "٣,٤",
    "-\n", "&amp;quot;", "3-4", "a-b", "1.5", "a.b", ".,", ",.", "x. Y", "x. y", "M.Ap.N. x",
    "șamd. ", "U.S. ", "—", "–", "„", "“", "”", "…", "\r\n", " ", "  ", "a", "B", "7",
]


def fuzz_piece_line():
    n = rng.randint(1, 25)
    return "".join(rng.choice(FUZZ_PIECES) for _ in range(n))


fuzz_lines = [fuzz_line() for _ in range(400)] + [fuzz_piece_line() for _ in range(400)]

with open(os.path.join(HERE, "strings.json"), "w", encoding="utf-8") as f:
    json.dump({"porter_words": porter_words, "fuzz_lines": fuzz_lines}, f, ensure_ascii=False, indent=0)
    f.write("\n")

# ---------------------------------------------------------------------------
# GLUE-style label and score sets
# ---------------------------------------------------------------------------


def noisy_labels(gold, k, p):
    return [g if rng.random() < p else rng.randrange(k) for g in gold]


classification = []
gold = [rng.randrange(2) for _ in range(250)]
classification.append({"name": "binary-250", "gold": gold, "pred": noisy_labels(gold, 2, 0.8)})
gold = [1 if rng.random() < 0.7 else 0 for _ in range(220)]
classification.append({"name": "binary-imbalanced", "gold": gold, "pred": noisy_labels(gold, 2, 0.6)})
gold = [rng.randrange(3) for _ in range(240)]
classification.append({"name": "three-class-240", "gold": gold, "pred": noisy_labels(gold, 3, 0.7)})
gold = [rng.randrange(5) for _ in range(210)]
classification.append({"name": "five-class-210", "gold": gold, "pred": noisy_labels(gold, 5, 0.5)})
classification += [
    {"name": "all-correct", "gold": [0, 1, 1, 0, 1], "pred": [0, 1, 1, 0, 1]},
    {"name": "all-wrong", "gold": [0, 1, 1, 0, 1], "pred": [1, 0, 0, 1, 0]},
    {"name": "constant-pred", "gold": [0, 1, 1, 0, 1], "pred": [1, 1, 1, 1, 1]},
    {"name": "constant-gold-and-pred-zero", "gold": [0, 0, 0], "pred": [0, 0, 0]},
    {"name": "no-positive-pred", "gold": [0, 1, 0, 1], "pred": [0, 0, 0, 0]},
    {"name": "single", "gold": [1], "pred": [1]},
    {"name": "labels-1-2", "gold": [1, 2, 2, 1, 2], "pred": [1, 2, 1, 1, 2]},
    {"name": "multiclass-constant-pred", "gold": [0, 1, 2, 2], "pred": [2, 2, 2, 2]},
]

regression = []
x = [round(rng.uniform(0, 5) * 5) / 5 for _ in range(250)]  # 0.2 steps -> many ties
y = [min(5.0, max(0.0, round((v + rng.gauss(0, 0.9)) * 5) / 5)) for v in x]
regression.append({"name": "stsb-like-250", "x": y, "y": x})
x = [float(rng.randint(0, 4)) for _ in range(230)]
y = [float(min(4, max(0, int(v) + rng.choice([-1, 0, 0, 0, 1])))) for v in x]
regression.append({"name": "integer-ties-230", "x": y, "y": x})
x = [rng.gauss(0, 1) for _ in range(200)]
regression.append({"name": "continuous-200", "x": x, "y": [v * 0.5 + rng.gauss(0, 0.3) for v in x]})
regression += [
    {"name": "perfect", "x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.0]},
    {"name": "anti", "x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [5.0, 4.0, 3.0, 2.0, 1.0]},
    {"name": "two-points", "x": [0.0, 1.0], "y": [1.0, 3.0]},
    {"name": "three-with-ties", "x": [1.0, 1.0, 2.0], "y": [3.0, 1.0, 1.0]},
    {"name": "large-offset", "x": [1e9 + 1, 1e9 + 2, 1e9 + 4, 1e9 + 3], "y": [1e-9, 2e-9, 3e-9, 5e-9]},
    {"name": "monotone-nonlinear", "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [1.0, 4.0, 9.0, 16.0, 25.0, 36.0]},
]

with open(os.path.join(HERE, "glue.json"), "w", encoding="utf-8") as f:
    json.dump({"classification": classification, "regression": regression}, f, indent=0)
    f.write("\n")

print(f"{len(pairs)} pairs, {len(porter_words)} porter words, {len(fuzz_lines)} fuzz lines, "
      f"{len(classification)} classification sets, {len(regression)} regression sets")
