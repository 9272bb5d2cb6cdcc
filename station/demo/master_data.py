"""The demo site's master data: suppliers, customers, items (GS1 numbers on made-up prefixes), recipes,
lot schemes, demand, operators, locations, and the reasons its people write. station/demo/ says how
the site is seeded from them."""
from __future__ import annotations

from dataclasses import dataclass

from labels.gs1 import check_digit  # GS1 check digits (biip's)

from ..models import LocationKind, Role, SequenceReset
from ..scanning.codes import LOCATION_PREFIX

DAYS = 90
OWN_PREFIX = "7312345"
MAX_EXPIRED = 12  # at most this many expired lots are still on the shelves; the rest were destroyed
BARCODE_PREFIX = LOCATION_PREFIX  # labels/codes.py


# --- GS1 numbers -------------------------------------------------------------------------------


def gtin13(prefix: str, ref: str) -> str:
    body = prefix + ref
    assert len(body) == 12, body
    return body + check_digit(body)


def gtin14(indicator: int, gtin_13: str) -> str:
    """The GTIN-14 of a case of the trade item `gtin_13` (indicator digit 1-8)."""
    body = str(indicator) + gtin_13[:12]
    return body + check_digit(body)


def gln(prefix: str, ref: int) -> str:
    body = prefix + f"{ref:05d}"
    return body + check_digit(body)


# --- the site's master data --------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierSpec:
    code: str
    name: str
    prefix: str
    lot_format: str  # how this supplier writes its lot numbers (str.format with p=produced, n=count)


SUPPLIERS = [
    SupplierSpec("HOFMUEHLE", "Hofmühle Getreide GmbH", "4012345", "M{p:%y}{j:03d}{c}"),
    SupplierSpec("NORDHAVN", "Nordhavn Mejeri A/S", "5790123", "{j:03d}{p:%y}-L{n:02d}"),
    SupplierSpec("VALCACAO", "Valcacao SAS", "3401234", "VC{p:%y%m%d}-{n:02d}"),
    SupplierSpec("PACKRIGHT", "PackRight Packaging Ltd", "5031234", "PR{n:06d}"),
    SupplierSpec("MEDIVERA", "Medivera Pharma B.V.", "8712345", "{c}{p:%y}{m}{n:03d}"),
]

CUSTOMERS = [
    ("GREENBASKET", "Green Basket Supermarkets", "5060123"),
    ("BAKEHOUSE", "Bakehouse Café Group", "4260123"),
    ("STOLAF", "St. Olaf Hospital Pharmacy", "7090123"),
    ("CITYCARE", "CityCare Pharmacies", "5400123"),
]


@dataclass(frozen=True)
class ItemSpec:
    sku: str
    name: str
    unit: str
    shelf_life: int | None
    fefo: bool
    zone: str              # A ambient, P packaging, B pharmacy, C cold room
    source: str            # supplier code, or the line that makes it
    ref: str               # 5-digit GTIN item reference under the source's company prefix
    case: int              # case GTIN-14 indicator digit, 0 for none
    lot: tuple[int, int]   # quantity per pallet (or per delivery when loose)
    step: int              # quantities come in multiples of this (a sack, a case)
    pallets: tuple[int, int]
    sscc: bool
    lag: tuple[int, int] | None  # days between production and receipt; None: not dated
    every: int             # weekdays between regular deliveries (0: made on a line)
    reorder: int           # an extra delivery (or a run) when usable stock would fall below this
    scheme: str | None = None
    oldest_first: bool = False  # picking refuses a younger lot than the suggestion, whatever the reason


ITEMS = [
    ItemSpec("ING-FLOUR550", "Wheat flour type 550, 25 kg sack", "kg", 365, False, "A", "HOFMUEHLE",
             "10001", 0, (200, 300), 25, (1, 2), True, (5, 40), 5, 50),
    ItemSpec("ING-SALT", "Fine sea salt, 25 kg sack", "kg", None, False, "A", "HOFMUEHLE",
             "10002", 0, (25, 25), 25, (1, 1), True, None, 13, 5),
    ItemSpec("ING-YEAST", "Fresh baker's yeast, 1 kg block", "kg", 35, True, "C", "HOFMUEHLE",
             "10003", 1, (5, 10), 5, (1, 1), False, (1, 3), 4, 3),
    ItemSpec("ING-SUGAR", "Caster sugar, 25 kg sack", "kg", 730, False, "A", "VALCACAO",
             "20001", 0, (50, 100), 25, (1, 1), True, (10, 60), 6, 15),
    ItemSpec("ING-CHOC54", "Dark chocolate callets 54%, 10 kg box", "kg", 540, True, "A", "VALCACAO",
             "20002", 1, (30, 50), 10, (1, 1), True, (14, 60), 6, 10),
    ItemSpec("ING-VANILLA", "Bourbon vanilla extract, 1 L bottle", "L", 730, True, "A", "VALCACAO",
             "20003", 1, (2, 4), 1, (1, 1), False, (30, 120), 13, 1),
    ItemSpec("ING-BUTTER82", "Unsalted butter 82% fat, 10 kg block", "kg", 120, True, "C", "NORDHAVN",
             "30001", 1, (100, 140), 10, (1, 1), True, (3, 14), 4, 40),
    ItemSpec("ING-EGG", "Pasteurised liquid whole egg, 10 L bag", "L", 28, True, "C", "NORDHAVN",
             "30002", 1, (10, 20), 10, (1, 1), False, (1, 3), 3, 10),
    ItemSpec("ING-SMP", "Skimmed milk powder, 25 kg bag", "kg", 540, True, "A", "NORDHAVN",
             "30003", 0, (25, 25), 25, (1, 1), True, (14, 90), 8, 5),
    ItemSpec("PKG-FILM320", "Flow-wrap film 320 mm, 1000 m roll", "ea", None, False, "P", "PACKRIGHT",
             "40001", 0, (6, 12), 6, (1, 1), True, None, 8, 2),
    ItemSpec("PKG-CARTON", "Shipping carton 400 x 300 x 200 mm", "ea", None, False, "P", "PACKRIGHT",
             "40002", 0, (150, 250), 50, (1, 1), True, None, 6, 40),
    ItemSpec("FG-CROISSANT6", "Butter croissants 6 x 60 g, chilled", "ea", 21, True, "C", "LINE-1",
             "00101", 1, (1200, 1800), 12, (1, 1), False, None, 0, 300, "finished goods"),
    ItemSpec("FG-COOKIE200", "Chocolate chip cookies 200 g", "ea", 180, True, "A", "LINE-2",
             "00102", 1, (1920, 3840), 24, (1, 1), False, None, 0, 800, "line daily"),
    ItemSpec("PH-PARA500", "Paracetamol 500 mg tablets, pack of 20", "ea", 1095, True, "B", "MEDIVERA",
             "50001", 1, (192, 480), 48, (1, 1), True, (30, 240), 3, 100),
    ItemSpec("PH-IBU400", "Ibuprofen 400 mg tablets, pack of 24", "ea", 1095, True, "B", "MEDIVERA",
             "50002", 1, (144, 360), 36, (1, 1), True, (30, 240), 4, 50),
    ItemSpec("PH-VITD1000", "Vitamin D3 1000 IU capsules, pack of 90", "ea", 730, True, "B", "MEDIVERA",
             "50003", 1, (96, 240), 24, (1, 1), True, (30, 180), 4, 50),
    ItemSpec("PH-AMOX500", "Amoxicillin 500 mg capsules, pack of 21", "ea", 730, True, "B", "MEDIVERA",
             "50004", 1, (90, 180), 30, (1, 1), True, (30, 180), 4, 30, oldest_first=True),
    ItemSpec("PH-NACL500", "Sodium chloride 0.9% infusion, 500 mL bag", "ea", 1095, True, "B", "MEDIVERA",
             "50005", 1, (60, 200), 20, (1, 1), True, (20, 120), 3, 40),
    ItemSpec("PH-GLOVES-M", "Nitrile examination gloves, size M, box of 100", "ea", 1825, False, "B",
             "MEDIVERA", "50006", 1, (20, 60), 10, (1, 1), True, (30, 365), 5, 10),
    ItemSpec("PH-SANIT500", "Hand sanitiser gel 70% ethanol, 500 mL", "ea", 1095, False, "B", "MEDIVERA",
             "50007", 1, (96, 240), 12, (1, 1), True, (20, 200), 4, 50),
]

# Opening stock: a pallet of each on the shelves when the site went live (imported, as a real site would).
OPENING_STOCK = ("ING-SALT", "ING-SUGAR", "PKG-FILM320", "PKG-CARTON", "PH-GLOVES-M")

# What a production run of 1000 units consumes, in each component's unit.
RECIPES = {
    "FG-CROISSANT6": {"ING-FLOUR550": 170, "ING-BUTTER82": 90, "ING-EGG": 20, "ING-YEAST": 7,
                      "ING-SUGAR": 20, "ING-SMP": 8, "ING-SALT": 3, "PKG-FILM320": 2,
                      "PKG-CARTON": 84},
    "FG-COOKIE200": {"ING-FLOUR550": 60, "ING-BUTTER82": 45, "ING-SUGAR": 50, "ING-CHOC54": 40,
                     "ING-EGG": 8, "ING-VANILLA": 1, "ING-SALT": 1, "PKG-FILM320": 2,
                     "PKG-CARTON": 42},
}

LOT_SCHEMES = {
    "finished goods": ("{item}-{yy}{jjj}-{seq:04}", SequenceReset.YEARLY),
    "line daily": ("{line}-{yy}{jjj}-{seq:02}", SequenceReset.DAILY),
}

# customer code -> (chance of an order on a weekday, [(sku, min qty, max qty, multiple of)])
DEMAND = {
    "GREENBASKET": (0.15, [("FG-CROISSANT6", 240, 720, 12), ("FG-COOKIE200", 240, 720, 24),
                          ("PH-VITD1000", 48, 192, 12), ("PH-SANIT500", 48, 144, 12)]),
    "BAKEHOUSE": (0.15, [("FG-CROISSANT6", 120, 480, 12), ("FG-COOKIE200", 120, 360, 24)]),
    "STOLAF": (0.1, [("PH-NACL500", 100, 400, 20), ("PH-GLOVES-M", 20, 80, 10),
                      ("PH-SANIT500", 24, 96, 12), ("PH-AMOX500", 60, 180, 30),
                      ("PH-PARA500", 96, 384, 48)]),
    "CITYCARE": (0.12, [("PH-PARA500", 240, 960, 48), ("PH-IBU400", 144, 576, 36),
                        ("PH-VITD1000", 48, 240, 24), ("PH-SANIT500", 48, 144, 12),
                        ("PH-AMOX500", 60, 180, 30)]),
}

OPERATORS = [
    ("OP-1001", "Anna Lindqvist", Role.RECEIVER),
    ("OP-1002", "Marek Nowak", Role.PICKER),
    ("OP-1003", "Sofia Rossi", Role.PICKER),
    ("OP-1004", "Jonas Weber", Role.LINE_OPERATOR),
    ("OP-1005", "Priya Natarajan", Role.SUPERVISOR),
    ("OP-1006", "Daniel Okafor", Role.ADMIN),
]

DEMO_DOCK_PRINTER = "tcp://127.0.0.1:9100"  # scripts/start.sh starts `station printer-emulator` there
DEMO_PIN = "1234"  # supervisors and admins sign in with badge and PIN (station/auth/); demo only

# why a lot is held, and the zones (A ambient food, B pharmacy, C cold room, P packaging) it fits
HOLD_REASONS = [
    ("Customer complaint CC-{n:04d} under investigation", "ABC"),
    ("Supplier notice: possible mislabelled batch, awaiting confirmation", "ABCP"),
    ("Label misprint: expiry date unreadable on outer case", "ABC"),
    ("Damaged shrink wrap found at count, inspection pending", "ABCP"),
    ("Stock count discrepancy under investigation", "ABCP"),
    ("Water damage near rack after roof leak, inspection pending", "ABP"),
    ("Certificate of analysis does not match the batch number", "ABC"),
    ("Lab retest requested: moisture above specification", "A"),
    ("Foreign body found by customer, batch traced here", "AC"),
    ("Temperature excursion logged in cold room overnight", "C"),
    ("Seal defect found on retained sample", "B"),
    ("Regulator batch query, awaiting the QP's decision", "B"),
    ("Print registration off on part of the roll", "P"),
]
QUARANTINE_REASONS = [
    "Incoming QC: sampled, awaiting lab release",
    "Temperature logger alarm on arrival (9.4 °C)",
    "Pallet damaged in transit, awaiting supplier inspection",
    "Certificate of analysis missing on delivery",
]
OVERRIDE_REASONS = [
    "Suggested pallet blocked behind another pallet",
    "Suggested lot on a high level, no reach truck free",
    "Customer asked for a single lot on the order",
]


def _locations() -> list[tuple[str, LocationKind, str]]:
    rows = [("DOCK-1", LocationKind.DOCK, "Dock door 1 (food)"),
            ("DOCK-2", LocationKind.DOCK, "Dock door 2 (pharmacy)")]
    for aisle, bays, what in (("A", 4, "ambient food"), ("B", 4, "pharmacy"), ("C", 3, "cold room")):
        for bay in range(1, bays + 1):
            for level in (1, 2):
                rows.append((f"{aisle}-{bay:02d}-{level:02d}", LocationKind.STORAGE,
                             f"Rack {aisle} bay {bay:02d} level {level:02d} ({what})"))
    for level in (1, 2):
        rows.append((f"A-05-{level:02d}", LocationKind.STORAGE,
                     f"Rack A bay 05 level {level:02d} (packaging)"))
    rows += [("QA-CAGE", LocationKind.STORAGE, "QA quarantine cage"),
             ("RET-1", LocationKind.QUARANTINE, "Returns cage (customer returns, recalled goods)"),
             ("LINE-1", LocationKind.LINE, "Line 1: croissants"),
             ("LINE-2", LocationKind.LINE, "Line 2: cookies"),
             ("SHIP-1", LocationKind.SHIPPING, "Shipping lane 1"),
             ("SHIP-2", LocationKind.SHIPPING, "Shipping lane 2")]
    return rows
