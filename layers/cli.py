"""The command line: `python -m layers COMMAND ...`. See README's "Command line" section."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import geopandas as gpd
import shapely
from shapely.geometry import Polygon, box

from layers import areas, catalogue, categories, settings
from layers.analysis import access, consensus, gaps, query
from layers.errors import BadInputError, NotAllowedError, OurPatchError
from layers.groups import accounts, community, importer
from layers.io import export, geojson, oruk
from layers.osm import osm2pgsql, sources
from layers.progress import Progress

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one sentence and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sentence = message[0].upper() + message[1:] if message else "Bad arguments"
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {sentence.rstrip('.')}. Try --help.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m layers", description="Our Patch: community asset layers.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_within = sub.add_parser(
        "within",
        help="print, as GeoJSON, every asset inside an area",
        description="Print an RFC 7946 FeatureCollection of the assets inside AREA.",
    )
    p_within.add_argument(
        "area",
        metavar="AREA",
        help="GeoJSON file (Feature, FeatureCollection or geometry, WGS84); - reads stdin",
    )
    p_within.add_argument("--category", action="append", metavar="ID", help="only this category (repeatable)")

    sub.add_parser("categories", help="list each category with its count")

    p_iso = sub.add_parser(
        "isochrone",
        help="print the area reachable in so many minutes, as a GeoJSON Feature",
        description="Print a GeoJSON Feature (Polygon or MultiPolygon, WGS84) of the area reachable "
        "along the streets of the loaded map, with properties minutes and mode.",
    )
    p_iso.add_argument("--lon", type=float, required=True, help="start longitude (WGS84)")
    p_iso.add_argument("--lat", type=float, required=True, help="start latitude (WGS84)")
    p_iso.add_argument("--minutes", type=float, required=True, help="travel time, 1 to 60")
    p_iso.add_argument(
        "--mode", default="walk", choices=["walk", "wheelchair", "cycle"], help="way of travelling (default: walk)"
    )

    p_users = sub.add_parser("users", help="manage people (the password comes from $OURPATCH_PASSWORD or a prompt)")
    users_sub = p_users.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    p_add = users_sub.add_parser("add", help="add a person")
    p_add.add_argument("name", metavar="NAME")
    p_add.add_argument("--role", required=True, choices=list(accounts.ROLES))
    p_add.add_argument("--group", metavar="GROUP", help="the community group an editor edits for")

    p_import = sub.add_parser("import", help="add community assets from a file, all or nothing")
    p_import.add_argument("file", metavar="FILE", help="CSV, GeoJSON, GeoPackage, zipped Shapefile or KML")
    p_import.add_argument("--group", required=True, metavar="GROUP")
    p_import.add_argument("--user", required=True, metavar="NAME", help="who imports (password as for users add)")
    p_import.add_argument("--publish", action="store_true", help="publish at once (moderators and admins only)")
    p_import.add_argument("--crs", metavar="EPSG:NNNN", help="coordinate system of a CSV's easting/northing")

    p_assets = sub.add_parser("assets", help="print community assets as GeoJSON")
    p_assets.add_argument("--status", choices=["pending", "published", "rejected"])
    p_assets.add_argument("--group", metavar="GROUP")

    p_export = sub.add_parser("export", help="write layers to a file for a GIS")
    which = p_export.add_mutually_exclusive_group()
    which.add_argument("--layer", action="append", metavar="ID", help="a category to export (repeatable)")
    which.add_argument("--all", action="store_true", help="every category")
    p_export.add_argument(
        "--format",
        required=True,
        choices=[*export.FORMATS, "oruk"],
        help="oruk: the community directory as an Open Referral UK data package (a folder)",
    )
    p_export.add_argument("--crs", metavar="EPSG:NNNN", help="coordinate system (GeoJSON and KML: WGS84 only)")
    p_export.add_argument("--area", metavar="AREA", help="area file (GeoJSON, GPKG, zipped SHP) or saved local's link")
    p_export.add_argument("--area-field", metavar="FIELD", help="with a many-area boundary file: the field to match")
    p_export.add_argument("--area-value", metavar="VALUE", help="...and the value (for example a ward's name)")
    p_export.add_argument("--include-pending", action="store_true", help="add unchecked community assets (flagged)")
    p_export.add_argument(
        "--outside-area-of-use",
        action="store_true",
        help="transform data that lie outside the CRS's area of use anyway (the files say so)",
    )
    p_export.add_argument("-o", "--output", required=True, metavar="OUT")
    p_export.add_argument("--force", action="store_true", help="replace OUT if it exists")

    p_cons = sub.add_parser("consensus", help="write the layer of what residents' locals add up to")
    p_cons.add_argument("--format", default="geojson", choices=["geojson", "gpkg", "csv"])
    p_cons.add_argument("--crs", metavar="EPSG:NNNN")
    p_cons.add_argument("--outside-area-of-use", action="store_true")
    p_cons.add_argument("-o", "--output", required=True, metavar="OUT")
    p_cons.add_argument("--force", action="store_true", help="replace OUT if it exists")

    p_gaps = sub.add_parser("gaps", help="write the part of an area beyond a walk of any asset of a category")
    p_gaps.add_argument("--category", required=True, metavar="ID")
    p_gaps.add_argument("--minutes", type=float, required=True)
    p_gaps.add_argument("--mode", default="walk", choices=["walk", "wheelchair", "cycle"])
    p_gaps.add_argument("--area", metavar="AREA", help="the area to look at (default: the whole loaded map)")
    p_gaps.add_argument("--format", default="geojson", choices=["geojson", "gpkg", "csv"])
    p_gaps.add_argument("--crs", metavar="EPSG:NNNN")
    p_gaps.add_argument("--outside-area-of-use", action="store_true")
    p_gaps.add_argument("-o", "--output", required=True, metavar="OUT")
    p_gaps.add_argument("--force", action="store_true", help="replace OUT if it exists")

    p_load = sub.add_parser("load", help="load another area (replaces the current one)")
    src = p_load.add_mutually_exclusive_group(required=True)
    src.add_argument("--pbf", metavar="PATH", help="an OpenStreetMap extract: .osm.pbf or .osm")
    src.add_argument("--place", metavar="NAME", help='a place name fetched online, e.g. "York, UK"')
    src.add_argument("--default", action="store_true", help="go back to the embedded central-Helsinki extract")
    p_load.add_argument(
        "--into",
        choices=["database", "files"],
        help="with --pbf: database = osm2pgsql into PostGIS (OURPATCH_DATABASE_URL; the default "
        "when it is set), files = pyrosm into the data folder (the default otherwise)",
    )
    return parser


@contextmanager
def terminal_progress() -> Iterator[Progress | None]:
    """A progress bar on standard error when it is a terminal; nothing at all when it is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    try:  # a terminal that reports no size (0 x 0) would hide the bar
        size = os.get_terminal_size(sys.stderr.fileno())
        width, height = size.columns or 80, size.lines or 24
    except OSError:
        width, height = 80, 24
    with tqdm(
        total=1,
        file=sys.stderr,
        leave=False,
        ncols=width,
        nrows=height,
        bar_format="{desc}… {n_fmt} of {total_fmt} |{bar}| {elapsed}",
    ) as bar:

        def update(what: str, step: int, total: int) -> None:
            bar.total = total
            bar.n = step
            bar.set_description_str(what, refresh=False)
            bar.refresh()

        yield update


def _current() -> sources.Extract:
    with terminal_progress() as progress:
        return sources.current(progress=progress)


def cmd_within(args: argparse.Namespace) -> int:
    wanted = categories.check_category_ids(args.category)
    if args.area == "-":
        area = areas.parse_area_text(
            areas.read_limited(sys.stdin.buffer, "The area on standard input"), origin="The area on standard input"
        )
    else:
        area = areas.read_area_file(args.area)
    extract = _current()
    index = query.AssetIndex(catalogue.all_assets(extract))
    found = index.within(area, wanted)
    if len(found) == 0 and not area.intersects(_bbox(extract)):
        print(
            f"Note: the area lies outside the loaded map ({extract.meta['name']}); "
            "check that coordinates are longitude, latitude.",
            file=sys.stderr,
        )
    sys.stdout.write(geojson.dumps(geojson.feature_collection(found)) + "\n")
    return 0


def _bbox(extract: sources.Extract) -> Polygon:
    return box(*extract.bounds)


def cmd_isochrone(args: argparse.Namespace) -> int:
    access.check_minutes(args.minutes)
    mode = access.mode_by_id(args.mode)
    extract = _current()
    network = access.StreetNetwork(extract.network, mode)
    result = access.isochrone(network, args.lon, args.lat, args.minutes)
    if result.note:
        print(result.note, file=sys.stderr)
    sys.stdout.write(geojson.dumps(result.feature()) + "\n")
    return 0


def _password() -> str:
    from_env = os.environ.get("OURPATCH_PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise BadInputError("Set OURPATCH_PASSWORD, or run this in a terminal to be asked for the password.")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise BadInputError("The two passwords differ.")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    user = accounts.add_user(args.name, args.role, _password(), group=args.group)
    print(f"Added {user.name} ({user.role}{', ' + user.group if user.group else ''}).")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    user = accounts.authenticate(args.user, _password())
    if user is None:
        raise NotAllowedError(f"That name and password do not match an account ({args.user!r}).")
    with terminal_progress() as progress:
        result = importer.import_file(
            user, args.file, group=args.group, publish=args.publish, crs=args.crs, progress=progress
        )
    status = "published" if args.publish else "pending"
    for row, asset_id in zip(result.report, result.ids, strict=True):
        print(f"row {row.row}: added {row.name!r} as community:{asset_id} ({status})")
    print(f"Imported {len(result.ids)} assets into {args.group}.")
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    every = community.visible_assets(None, status=args.status, group=args.group, everyone=True)
    rows = community.showable(every)
    shown = {r.id for r in rows}
    for r in every:
        if r.id not in shown:
            print(f"Note: community:{r.id} is left out: {community.unshowable(r)}.", file=sys.stderr)
    features = []
    for r in rows:
        assert r.geometry is not None  # showable() rows only
        links = [{"relation": link.relation, "target": link.target} for link in r.links]
        features.append(
            {
                "type": "Feature",
                "id": f"community:{r.id}",
                "geometry": shapely.geometry.mapping(r.geometry),
                "properties": {
                    "id": f"community:{r.id}",
                    "name": r.name,
                    "group": r.group_name,
                    "status": r.status,
                    "kind": r.kind,
                    "category": r.category,
                    "links": links,
                    "rejection_reason": r.rejection_reason,
                    "last_verified": r.last_verified,
                    "stale": community.is_stale(r),
                },
            }
        )
    sys.stdout.write(geojson.dumps({"type": "FeatureCollection", "features": features}) + "\n")
    return 0


def _check_output(args: argparse.Namespace) -> None:
    """-o never replaces a file silently."""
    out = Path(args.output)
    if (out.exists() or out.is_symlink()) and not args.force:
        raise BadInputError(f"{out} already exists; add --force to replace it.")
    if out.is_dir() and args.format != "oruk":
        raise BadInputError(f"{out} is a folder; give a file name.")


def cmd_export(args: argparse.Namespace) -> int:
    _check_output(args)
    if args.format == "oruk":
        files = oruk.write_package(args.output)
        print(f"Wrote the Open Referral UK data package (datapackage.json, {len(files) - 2} tables) in {args.output}")
        return 0
    if not args.all and not args.layer:
        raise BadInputError("Say which layers: --layer ID (repeatable) or --all.")
    export.parse_crs(args.crs)
    layer_ids = None if args.all else categories.check_category_ids(args.layer)
    area = export.resolve_area(args.area, field=args.area_field, value=args.area_value) if args.area else None
    notes: list[str] = []
    _current()  # a cold first load shows its own progress
    with terminal_progress() as progress:
        files = export.export_to(
            args.output,
            args.format,
            layer_ids=layer_ids,
            area=area,
            crs=args.crs,
            include_pending=args.include_pending,
            outside_area_of_use=args.outside_area_of_use,
            notes=notes,
            progress=progress,
            everyone=True,
        )
    for note in notes:
        print(f"Warning: {note}", file=sys.stderr)
    print("Wrote " + ", ".join(str(f) for f in files))
    return 0


def cmd_consensus(args: argparse.Namespace) -> int:
    _check_output(args)
    with terminal_progress() as progress:
        cells = consensus.consensus_cells(progress=progress)
    licence = "Aggregated from residents' saved locals on Our Patch (cells with fewer than 5 residents left out).\n"
    export.write_layer(
        cells,
        args.format,
        args.output,
        layer="consensus",
        crs=args.crs,
        licence=licence,
        outside_area_of_use=args.outside_area_of_use,
    )
    print(
        f"Wrote {len(cells)} cells covered by at least {consensus.MIN_CONTRIBUTORS} residents' locals to {args.output}"
    )
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    _check_output(args)
    categories.check_category_ids([args.category])
    extract = _current()
    area = export.resolve_area(args.area) if args.area else box(*extract.bounds)
    network = access.StreetNetwork(extract.network, access.mode_by_id(args.mode))
    with terminal_progress() as progress:
        result = gaps.coverage_gap(
            network, catalogue.all_assets(extract), args.category, args.minutes, area, progress=progress
        )
    label = categories.by_id()[args.category].item
    frame = gpd.GeoDataFrame(
        {
            "category": [args.category],
            "minutes": [args.minutes],
            "mode": [args.mode],
            "share": [round(result.share, 4)],
        },
        geometry=[result.gap],
        crs="EPSG:4326",
    )
    export.write_layer(
        frame,
        args.format,
        args.output,
        layer="gap",
        crs=args.crs,
        licence=export.licence_text(),
        outside_area_of_use=args.outside_area_of_use,
    )
    print(
        f"{result.share:.0%} of the area is more than {args.minutes:g} minutes ({args.mode}) from any {label}; "
        f"written to {args.output}"
    )
    return 0


def cmd_categories(_args: argparse.Namespace) -> int:
    assets = catalogue.all_assets(_current())
    counts = assets["category"].value_counts()
    width = max(len(c.id) for c in categories.load_categories())
    for cat in categories.load_categories():
        print(f"{cat.id:<{width}}  {int(counts.get(cat.id, 0)):>6}  {cat.label}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    into = args.into or ("database" if settings.database_url() else "files")
    if args.into and not args.pbf:
        raise BadInputError("--into goes with --pbf.")
    if args.pbf and into == "database":
        with terminal_progress() as progress:
            meta = osm2pgsql.load(args.pbf, osm2pgsql.database_url(), progress=progress)
        sources.reset_to_default()  # the database's region is what every app server shows now
        print(f"Loaded {meta['name']} into the database with osm2pgsql: {meta['asset_count']} assets.")
        return 0
    if settings.database_url():  # what is loaded now replaces the database's region too
        osm2pgsql.forget()
    if args.default:
        sources.reset_to_default()
        extract = _current()
    elif args.pbf:
        with terminal_progress() as progress:
            extract = sources.load_file(args.pbf, progress=progress)
        sources.save(extract)
    else:
        print(f"Fetching {args.place!r} from OpenStreetMap…", file=sys.stderr)
        extract = sources.from_place(args.place)
        sources.save(extract)
    print(
        f"Loaded {extract.meta['name']}: {extract.meta['asset_count']} assets, "
        f"{len(extract.basemap)} base-map features."
    )
    return 0


COMMANDS = {
    "within": cmd_within,
    "categories": cmd_categories,
    "load": cmd_load,
    "isochrone": cmd_isochrone,
    "users": cmd_users,
    "import": cmd_import,
    "assets": cmd_assets,
    "export": cmd_export,
    "consensus": cmd_consensus,
    "gaps": cmd_gaps,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except OurPatchError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, UnicodeError) as exc:  # e.g. an unreadable file named on the command line
        print(f"Error: {BadInputError(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
