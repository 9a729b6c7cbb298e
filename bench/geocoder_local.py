"""Benchmark: GEOCODER=local against the real addok, on the same addresses.

The demo addresses (app/data/adresses-demo.csv, the BAN's CSV format) are imported into
SQLite and into a throwaway PostgreSQL (`webleads geo import-ban` does the same), and
given to a real addok (tests/fakes/addok_server.py: BAN's software and configuration)
as the street documents BAN builds from that same CSV. Queries are typed as citizens
type them, most derived from the address file: exact, abbreviated, misspelt, without or
with a wrong number, bis/ter, nonsense, and addresses of the neighbouring commune (to be
named as such, unless Vitré has a street of that name too). Each goes through the
product's geocoder objects (BanGeocoder, cache off, and LocalGeocoder), restricted to
Vitré as the conversation does. Prints, per query class: how many found something (for
"other commune", how many named Fougères), how often the first results agree (same
label, or within 20 m), and the median and p95 latency of each.

`--departement N` instead writes a made-up BAN file of N lines (~400 communes) and
prints the import's time and memory and the search latency at that size.

    python bench/geocoder_local.py [--repeat 5] [--only sqlite|postgres] [--show-differences]
    python bench/geocoder_local.py --departement 400000   # import and search at scale
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import resource
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.seed import ADDRESSES_FILE
from models import migrate
from models.db import Database
from services.ban_import import BAN_COLUMNS, import_ban
from services.geo import BanGeocoder, Found, Town, _Cache
from services.geo_local import LocalGeocoder
from tests.fakes.addok_server import DEFAULT_DATA_FILE, AddokServer
from tests.pg import throwaway_database

VITRE = Town("Vitré", "35360", (48.123, -1.212), (48.08, -1.29, 48.17, -1.14))
SAME_METRES = 20.0
ABBREVIATE = {"Rue": "r", "Boulevard": "bd", "Place": "pl", "Allée": "all", "Avenue": "av",
              "Général": "gal", "Saint": "st"}  # fmt: skip
NONSENSE = ["xqzvw blorf", "hello world", "bonjour", "le trou devant chez moi", "asdfgh",
            "merci beaucoup", "je ne sais pas", "zzzz", "lampadaire cassé", "???? !!!",
            "12345678", "kjhgf poiuy"]  # fmt: skip
CLASSES = ["exact", "abbreviated", "typo", "two typos", "no number", "number not there",
           "bis/ter", "nonsense", "other commune", "in both communes"]  # fmt: skip


# --- the same addresses for addok ---------------------------------------------------------


def addok_documents(csv_path: Path, out: Path) -> None:
    """Writes the CSV's streets as addok documents (one per street, its numbers inside).

    Importance and the communes' own documents come from the test fixture, as BAN
    computes them from data the CSV does not carry (population, street length).
    """
    fixture = [json.loads(line) for line in DEFAULT_DATA_FILE.read_text().splitlines()]
    importance = {d["id"]: d.get("importance", 0.5) for d in fixture}
    streets: dict[str, dict] = {}
    with open(csv_path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            key = row["id_fantoir"]
            doc = streets.setdefault(key, {
                "id": key, "type": "street", "name": row["nom_voie"],
                "postcode": row["code_postal"], "citycode": row["code_insee"],
                "city": row["nom_commune"], "context": "35, Ille-et-Vilaine, Bretagne",
                "importance": importance.get(key, 0.5), "housenumbers": {},
            })  # fmt: skip
            number = f"{row['numero']} {row['rep']}".strip()
            doc["housenumbers"][number] = {"id": row["id"], "lat": float(row["lat"]),
                                           "lon": float(row["lon"])}  # fmt: skip
    for doc in streets.values():  # the street's point: its number nearest the middle
        points = list(doc["housenumbers"].values())
        mid = (statistics.fmean(p["lat"] for p in points),
               statistics.fmean(p["lon"] for p in points))  # fmt: skip
        near = min(points, key=lambda p: metres(p["lat"], p["lon"], *mid))
        doc["lat"], doc["lon"] = near["lat"], near["lon"]
    with open(out, "w", encoding="utf-8") as handle:
        for doc in [d for d in fixture if d["type"] == "municipality"] + list(streets.values()):
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")


# --- the queries --------------------------------------------------------------------------


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def misspell(word: str, rng: random.Random) -> str:
    """One typo in a word: a letter dropped, doubled, swapped with the next, or replaced."""
    i = rng.randrange(1, len(word) - 1) if len(word) > 3 else 1
    kind = rng.choice(["drop", "double", "swap", "replace"])
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    near = {"a": "e", "e": "a", "i": "y", "o": "u", "u": "o", "r": "t", "t": "r", "n": "m",
            "m": "n", "s": "z", "l": "m", "c": "k", "g": "j", "d": "t", "b": "p"}  # fmt: skip
    return word[:i] + near.get(word[i], "e") + word[i + 1 :]


def queries(csv_path: Path, rng: random.Random) -> list[tuple[str, str, dict]]:
    """(class, typed text, what is expected: the label or the commune it is in)."""
    numbers: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    with open(csv_path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            numbers[(row["code_insee"], row["nom_voie"], row["nom_commune"])].append(
                (row["numero"], row["rep"])
            )
    out = []
    in_town = {street for code, street, _city in numbers if code == VITRE.citycode}
    for (code, street, city), nums in sorted(numbers.items()):
        plain = [n for n, rep in nums if not rep]
        number = rng.choice(plain)
        if code != VITRE.citycode:
            # Fougères has a Rue de la Poterie, and so has Vitré: that one is the answer.
            kind, expected = ("in both communes", {}) if street in in_town else (
                "other commune", {"elsewhere": city})  # fmt: skip
            out.append((kind, f"{number} {street}", expected))
            out.append((kind, street.lower(), expected))
            continue
        out.append(("exact", f"{number} {street}", {}))
        words = street.split()
        short = " ".join(ABBREVIATE.get(w, w) for w in words)
        if short != street:
            out.append(("abbreviated", f"{number} {fold(short).lower()}", {}))
        else:
            out.append(("abbreviated", f"{number} {fold(street).upper()}", {}))  # no accents
        longest = max(range(len(words)), key=lambda k: len(words[k]))
        once = list(words)
        once[longest] = misspell(words[longest].lower(), rng)
        out.append(("typo", f"{number} {' '.join(once).lower()}", {}))
        twice = list(once)
        others = [k for k in range(len(words)) if k != longest and len(words[k]) > 3]
        k = rng.choice(others) if others else longest
        twice[k] = misspell(twice[k].lower(), rng)
        out.append(("two typos", " ".join(twice).lower(), {}))
        out.append(("no number", street.lower(), {}))
        out.append(("number not there", f"{max(int(n) for n in plain) + 57} {street}", {}))
        for n, rep in nums:
            if rep:
                out.append(("bis/ter", f"{n} {rep} {street.lower()}", {}))
                out.append(("bis/ter", f"{n}{rep[0]} {street.lower()}", {}))
    out += [("nonsense", text, {}) for text in NONSENSE]
    return out


# --- running them -------------------------------------------------------------------------


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)  # fmt: skip
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def timed(geocoder, text: str, repeat: int) -> tuple[Found, list[float]]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = geocoder.search(text, VITRE)
        times.append((time.perf_counter() - started) * 1000)
    return found, times


def answered(found: Found, expected: dict) -> bool:
    if "elsewhere" in expected:
        return found.elsewhere == expected["elsewhere"]
    return bool(found.places)


def agree(a: Found, b: Found) -> bool:
    """Same first answer: label, or a point within SAME_METRES; or both the same refusal."""
    if not a.places or not b.places:
        return not a.places and not b.places and a.elsewhere == b.elsewhere
    pa, pb = a.places[0], b.places[0]
    return pa.label == pb.label or metres(pa.lat, pa.lon, pb.lat, pb.lon) <= SAME_METRES


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)]


def run(geocoders: dict, cases: list, repeat: int):
    results = []
    for kind, text, expected in cases:
        row = {"class": kind, "text": text, "expected": expected}
        for name, geocoder in geocoders.items():
            geocoder.search(text, VITRE)  # warm: the cache is off, the connection is not
            row[name] = timed(geocoder, text, repeat)
        results.append(row)
    return results


def table(results: list, names: list[str]) -> None:
    locals_ = [n for n in names if n != "addok"]
    head = f"{'class':17}{'n':>4}  {'found ' + '/'.join(names):>26}  "
    head += "".join(f"{'same ' + n:>13}" for n in locals_)
    head += "".join(f"{n + ' med/p95 ms':>22}" for n in names)
    print(head)
    print("-" * len(head))
    for kind in [*CLASSES, "all"]:
        rows = [r for r in results if kind in ("all", r["class"])]
        if not rows:
            continue
        found = "/".join(str(sum(answered(r[n][0], r["expected"]) for r in rows)) for n in names)
        line = f"{kind:17}{len(rows):>4}  {found:>26}  "
        line += "".join(f"{sum(agree(r['addok'][0], r[n][0]) for r in rows):>13}" for n in locals_)
        for n in names:
            times = [t for r in rows for t in r[n][1]]
            line += f"{statistics.median(times):>13.1f} /{percentile(times, 0.95):>6.1f}"
        print(line)


def differences(results: list, names: list[str]) -> None:
    print("\nWhere local and addok differ (first answer and score):")
    for r in results:
        if all(agree(r["addok"][0], r[n][0]) for n in names if n != "addok"):
            continue

        def show(found: Found) -> str:
            if found.places:
                return f"{found.places[0].label} ({found.places[0].score:.2f})"
            return f"elsewhere: {found.elsewhere}" if found.elsewhere else "nothing"

        print(f"  [{r['class']}] {r['text']!r}: addok {show(r['addok'][0])}; "
              f"local {show(r[names[1]][0])}")  # fmt: skip


def local_database(url: str, csv_path: Path) -> Database:
    db = Database(url)
    migrate.upgrade(db.engine)
    import_ban(db, csv_path)
    return db


# --- at a département's scale -------------------------------------------------------------

FIRST = ["Victor Hugo", "Jean Jaurès", "Pasteur", "de la Gare", "de l'Église", "des Écoles",
         "du Moulin", "des Tilleuls", "Saint-Martin", "de la Mairie", "du Stade", "des Lilas",
         "Charles de Gaulle", "de Bretagne", "des Chênes", "de la Fontaine", "du Château",
         "Jules Ferry", "de Verdun", "de la Libération", "des Peupliers", "du Lavoir"]  # fmt: skip
TYPES = ["Rue", "Avenue", "Impasse", "Allée", "Place", "Chemin", "Boulevard", "Route"]


def departement_file(path: Path, lines: int, rng: random.Random) -> int:
    """Writes a BAN CSV of `lines` addresses over ~350 communes (names made up)."""
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(["id", "id_fantoir", *BAN_COLUMNS])
        commune = 0
        while written < lines:
            commune += 1
            code, city = f"35{commune:03d}", f"Commune {commune}"
            lat0, lon0 = 47.7 + rng.random() * 0.9, -2.2 + rng.random() * 1.2
            for s, (kind, name) in enumerate(
                rng.sample([(t, f) for t in TYPES for f in FIRST], rng.randint(20, 60))
            ):
                for n in range(1, rng.randint(5, 40)):
                    lat, lon = lat0 + s * 0.001 + n * 0.00005, lon0 + n * 0.00007
                    writer.writerow([f"{code}_{s:04d}_{n:05d}", f"{code}_{s:04d}", n, "",
                                     f"{kind} {name}", "35000", code, city, f"{lon:.6f}",
                                     f"{lat:.6f}"])  # fmt: skip
                    written += 1
    return commune


def at_scale(lines: int, only: str | None, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "adresses-35.csv"
        communes = departement_file(path, lines, rng)
        print(f"\nA département-sized file: {lines} lines, {communes} communes, "
              f"{path.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        targets = []
        if only != "postgres":
            targets.append(("sqlite", f"sqlite:///{tmp}/scale.db"))
        with throwaway_database("bench_geo_scale") as pg_url:
            if only != "sqlite" and pg_url:
                targets.append(("postgres", pg_url))
            for name, url in targets:
                db = Database(url)
                migrate.upgrade(db.engine)
                peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                started = time.perf_counter()
                result = import_ban(db, path)
                took = time.perf_counter() - started
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                # The demo town's own addresses too, so that the search has its answers.
                import_ban(db, ADDRESSES_FILE)
                geocoder = LocalGeocoder(db)
                texts = ["12 rue de la poterie", "rue de la potterie", "12 bd de laval",
                         "rue victor hugo", "xqzvw blorf", "rue de"]  # fmt: skip
                times = []
                for text in texts * 5:
                    started_q = time.perf_counter()
                    geocoder.search(text, VITRE)
                    times.append((time.perf_counter() - started_q) * 1000)
                median, p95 = statistics.median(times), percentile(times, 0.95)
                print(f"  {name:9} import {took:6.1f} s ({result.addresses / took:,.0f} lines/s), "
                      f"peak RSS {peak_before:,.0f} -> {peak:,.0f} MB; "
                      f"search median {median:.1f} ms, p95 {p95:.1f} ms")  # fmt: skip
                db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--show-differences", action="store_true")
    parser.add_argument("--departement", type=int, default=0, metavar="LINES")
    parser.add_argument("--seed", type=int, default=35360)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.departement:
        at_scale(args.departement, args.only, rng)
        return
    cases = queries(ADDRESSES_FILE, rng)
    with tempfile.TemporaryDirectory() as tmp:
        documents = Path(tmp) / "addok.ndjson"
        addok_documents(ADDRESSES_FILE, documents)
        with AddokServer([documents]) as addok, throwaway_database("bench_geo_local") as pg_url:
            ban = BanGeocoder(addok.base_url)
            ban.cache = _Cache(0)  # every query asks addok
            geocoders = {"addok": ban}
            if args.only != "postgres":
                geocoders["sqlite"] = LocalGeocoder(
                    local_database(f"sqlite:///{tmp}/local.db", ADDRESSES_FILE)
                )
            if args.only != "sqlite" and pg_url:
                geocoders["postgres"] = LocalGeocoder(local_database(pg_url, ADDRESSES_FILE))
            print(f"{len(cases)} queries, {args.repeat} times each, restricted to Vitré "
                  f"(addok {addok.startup_seconds:.1f} s to start)\n")  # fmt: skip
            results = run(geocoders, cases, args.repeat)
            names = list(geocoders)
            table(results, names)
            if "sqlite" in geocoders and "postgres" in geocoders:
                same = sum(r["sqlite"][0] == r["postgres"][0] for r in results)
                print(f"\nSQLite and PostgreSQL give the same answers (every place, every "
                      f"score) to {same} of {len(results)} queries.")  # fmt: skip
            if args.show_differences:
                differences(results, names)
            for geocoder in list(geocoders.values())[1:]:
                geocoder.db.dispose()


if __name__ == "__main__":
    main()
