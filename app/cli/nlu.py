"""`webleads nlu`: the free-text reader (services/nlu), guessed, evaluated, retrained,
activated, its examples exported and imported."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from models.nlu import all_models
from services.audit import Action, Actor, Thing, record
from services.nlu import evaluate, examples, reader, training
from services.runtime import current_runtime


@click.group("nlu", cls=AppGroup)
def nlu_group() -> None:
    """The free-text reader: guess, evaluate, retrain, activate."""


@nlu_group.command("guess")
@click.argument("text")
def nlu_guess(text: str) -> None:
    """Reads TEXT as a resident's message: the top categories, how sure, the place."""
    rt = current_runtime()
    with rt.db.reading() as session:
        reading = reader.read(session, rt.catalog.get(session), text)
    model = f"version {reading.version}" if reading.version else "shipped examples"
    click.echo(f"Verdict: {reading.verdict} (model: {model})")
    for code, probability in reading.ranked[:3]:
        click.echo(f"  {code:<16} {probability:6.1%}")
    place = reading.place
    click.echo(f"Place: {place.query if place else 'none found'}")


@nlu_group.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def nlu_eval(path: str) -> None:
    """Scores the reader in use on a TSV file (columns text, category, optional street)."""
    rt = current_runtime()
    rows = evaluate.read_labelled(path)
    with rt.db.reading() as session:
        catalog = rt.catalog.get(session)
        scores = evaluate.score(reader.reader(session, catalog), rows)
    _echo_scores(scores)


def _echo_scores(scores) -> None:
    figures = scores.as_dict()
    click.echo(f"Messages: {figures['messages']}")
    click.echo(f"Top-1: {figures['top1']:.1%}  Top-3: {figures['top3']:.1%}")
    if scores.named:
        click.echo(
            f"Place found: {figures['place_found']:.1%}  right: {figures['place_right']:.1%}"
            f" (of {scores.named} naming one)"
        )
    click.echo(
        f"Non-reports taken for reports: {scores.non_reports_taken}/{scores.non_reports}  "
        f"Emergencies answered: {figures['emergencies_answered']}  "
        f"False alarms: {scores.false_alarms}"
    )
    click.echo("Confusion (expected: right/all, read instead):")
    for line in evaluate.confusion_lines(scores):
        click.echo(f"  {line}")


@nlu_group.command("train")
def nlu_train() -> None:
    """Retrains from the shipped examples and the town's reports; stores a new version."""
    rt = current_runtime()
    with rt.db.transaction() as session:
        trained = training.train(session, rt.catalog.get(session))
    click.echo(
        f"Version {trained.version} stored (not active): {trained.shipped} shipped examples, "
        f"{trained.town} of the town's reports, {trained.held_out} held out to score."
    )
    active = f"version {trained.active_version}" if trained.active_version else "shipped examples"
    if trained.held_out:
        for name, scores in ((f"new (version {trained.version})", trained.scores),
                             (f"active ({active})", trained.active_scores)):  # fmt: skip
            click.echo(f"  {name}: top-1 {scores['top1']:.1%}, top-3 {scores['top3']:.1%}")
    else:
        click.echo("  No held-out reports to score on yet.")
    click.echo(f"Activate it with `webleads nlu activate {trained.version}`.")


@nlu_group.command("activate")
@click.argument("version", type=int)
def nlu_activate(version: int) -> None:
    """Makes VERSION the reader in use (audited)."""
    rt = current_runtime()
    with rt.db.transaction() as session:
        done = training.activate(session, Actor.command_line(), version)
    if not done:
        raise click.ClickException(f"There is no version {version}.")
    click.echo(f"Version {version} is now the reader in use.")


@nlu_group.command("list")
def nlu_list() -> None:
    """Lists the stored versions with their scores."""
    with current_runtime().db.reading() as session:
        for row in all_models(session):
            about = json.loads(row.about)
            scores = about.get("scores") or {}
            click.echo(
                f"{'*' if row.active else ' '} {row.version:>3}  {row.created_at:%Y-%m-%d %H:%M}"
                f"  town reports {about.get('town', 0):>4}"
                f"  top-1 {scores.get('top1', 0):.1%}  top-3 {scores.get('top3', 0):.1%}"
            )


@nlu_group.command("export")
@click.argument("out_file", metavar="FILE.tsv")
def nlu_export(out_file: str) -> None:
    """Writes the town's examples (text, category, language, source) to FILE.tsv ("-": the
    screen), for another town to import."""
    rt = current_runtime()
    with rt.db.reading() as session:
        found = examples.town_examples(
            session, rt.catalog.get(session), rt.settings.DEFAULT_LANGUAGE
        )
    if out_file == "-":
        click.echo(examples.to_tsv(found), nl=False)
        return
    try:
        Path(out_file).write_text(examples.to_tsv(found), encoding="utf-8", newline="")
    except OSError as exc:
        raise click.ClickException(f"Cannot write {out_file}: {exc.strerror}.") from exc
    click.echo(f"{len(found)} example(s) written to {out_file}.")


@nlu_group.command("import")
@click.argument("in_file", metavar="FILE.tsv")
def nlu_import(in_file: str) -> None:
    """Adds the examples of FILE.tsv (as `nlu export` writes it) to the town's: a row with
    a category the town does not have is listed and skipped, a known example skipped."""
    try:
        data = Path(in_file).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"Cannot read {in_file}: {exc.strerror}.") from exc
    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            done = examples.import_tsv(
                session, rt.catalog.get(session), data, rt.settings.DEFAULT_LANGUAGE
            )
            if done.added:
                record(session, Actor.command_line(), Thing.READER, "examples", Action.CREATED,
                       {"examples": [None, done.added]})  # fmt: skip
    except examples.ExamplesError as exc:
        raise click.ClickException(f"{in_file}: {exc}") from exc
    click.echo(
        f"{done.added} example(s) imported, {done.duplicates} already known, "
        f"{len(done.bad)} row(s) skipped."
    )
    for bad in done.bad:
        click.echo(f"  line {bad.line}: {bad.reason % {'value': bad.value}}: {bad.text}")
    if done.added:
        click.echo("Train a new version to use them: `webleads nlu train`.")
