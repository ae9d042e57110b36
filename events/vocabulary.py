"""The service's words: the closed sets of values that events, commands and boards share.

Each value is an English identifier (stable on the wire); the Persian term the operators use
is kept beside it in ``PERSIAN`` for the dashboard and the terminal board.
"""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A value of a closed set, serialised as its plain string."""

    def __str__(self) -> str:
        return str(self.value)


class Line(Word):
    LINE_123 = "123"  # خط ۱۲۳ اورژانس اجتماعی
    LINE_1480 = "1480"  # خط مشاوره ۱۴۸۰


class CallCategory(Word):
    SPOUSE_ABUSE = "spouse_abuse"  # همسرآزاری
    CHILD_ABUSE = "child_abuse"  # کودک‌آزاری
    CHILD_MALTREATMENT = "child_maltreatment"  # فرزندآزاری
    ELDER_ABUSE = "elder_abuse"  # سالمندآزاری
    DISABLED_ABUSE = "disabled_abuse"  # معلول‌آزاری
    FAMILY_DISPUTE = "family_dispute"  # اختلافات خانوادگی
    SPOUSE_ADDICTION = "spouse_addiction"  # اعتیاد همسران
    SUICIDE = "suicide"  # خودکشی
    RUNAWAY = "runaway"  # دختران و پسران فراری
    STREET_CHILDREN = "street_children"  # کودکان کار و خیابان
    DIVORCE = "divorce"  # زوجین متقاضی طلاق
    OTHER = "other"  # سایر


class Priority(Word):
    URGENT = "urgent"  # فوری
    HIGH = "high"  # بالا
    NORMAL = "normal"  # عادی
    LOW = "low"  # کم


PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class RiskFlag(Word):
    SUICIDE_RISK = "suicide_risk"  # خطر خودکشی
    CHILD_IN_DANGER = "child_in_danger"  # کودک در خطر
    VIOLENCE_ONGOING = "violence_ongoing"  # خشونت در جریان
    WEAPON = "weapon"  # سلاح
    STAFF_SAFETY = "staff_safety"  # خطر برای کارکنان


class ReferralTarget(Word):
    LINE_1480 = "line_1480"  # ارجاع به ۱۴۸۰
    CENTRE = "centre"  # مرکز مداخله در بحران
    OUTSIDE_AGENCY = "outside_agency"  # دستگاه بیرونی


class ReferralRoute(Word):
    """How a case reached the service (مسیر پذیرش / ارجاع)."""

    SELF = "self"  # خودمعرف
    LINE_123 = "line_123"  # ارجاع از خط ۱۲۳
    MOBILE_TEAM = "mobile_team"  # ارجاع از اورژانس سیار
    OTHER_CENTRE = "other_centre"  # ارجاع از سایر مراکز بهزیستی
    POLICE = "police"  # مراجع انتظامی
    JUDICIARY = "judiciary"  # مراجع قضایی
    OTHER_ORGANIZATION = "other_organization"  # سایر سازمان‌ها


class IncidentOutcome(Word):
    RESOLVED_ON_SCENE = "resolved_on_scene"  # حل در محل
    ADMITTED = "admitted"  # پذیرش در مرکز
    REFERRED = "referred"  # ارجاع
    NO_CONTACT = "no_contact"  # عدم دسترسی
    FALSE_REPORT = "false_report"  # گزارش نادرست
    CANCELLED = "cancelled"  # لغو


class ShiftKind(Word):
    MORNING = "morning"  # صبح
    EVENING = "evening"  # عصر
    NIGHT = "night"  # شب


class TeamStatus(Word):
    AVAILABLE = "available"  # آماده
    DISPATCHED = "dispatched"  # اعزام شده
    EN_ROUTE = "en_route"  # در مسیر
    ON_SCENE = "on_scene"  # در محل
    TRANSPORTING = "transporting"  # در حال انتقال
    AT_CENTRE = "at_centre"  # در مرکز
    OFF_DUTY = "off_duty"  # خارج از نوبت


# The legal moves of a team's status. A team leaves `available` only by a dispatch (which
# names the incident) or by ending its shift; it goes back to `available` when the job ends.
TEAM_TRANSITIONS: dict[TeamStatus, frozenset[TeamStatus]] = {
    TeamStatus.OFF_DUTY: frozenset(),  # only a shift start leaves off duty
    TeamStatus.AVAILABLE: frozenset(),  # only a dispatch or a shift end leaves available
    TeamStatus.DISPATCHED: frozenset({TeamStatus.EN_ROUTE, TeamStatus.AVAILABLE}),
    TeamStatus.EN_ROUTE: frozenset({TeamStatus.ON_SCENE, TeamStatus.AVAILABLE}),
    TeamStatus.ON_SCENE: frozenset({TeamStatus.TRANSPORTING, TeamStatus.AVAILABLE}),
    TeamStatus.TRANSPORTING: frozenset({TeamStatus.AT_CENTRE}),
    TeamStatus.AT_CENTRE: frozenset({TeamStatus.AVAILABLE}),
}

ENGAGED_STATUSES = frozenset(
    {
        TeamStatus.DISPATCHED,
        TeamStatus.EN_ROUTE,
        TeamStatus.ON_SCENE,
        TeamStatus.TRANSPORTING,
        TeamStatus.AT_CENTRE,
    }
)


class CentreKind(Word):
    RESIDENTIAL_LEVEL_1 = "residential_level_1"  # مرکز مداخله در بحران شبانه‌روزی سطح یک
    RESIDENTIAL_LEVEL_2 = "residential_level_2"  # مرکز مداخله در بحران شبانه‌روزی سطح دو
    OUTPATIENT = "outpatient"  # مرکز سرپایی
    SAFE_HOUSE = "safe_house"  # خانه امن
    HEALTH_HOUSE = "health_house"  # خانه سلامت
    SOCIAL_SERVICE_BASE = "social_service_base"  # پایگاه خدمات اجتماعی
    MOBILE_BASE = "mobile_base"  # پایگاه اورژانس سیار


# Places whose location is secret by nature, whatever the registering user says.
SECRET_KINDS = frozenset({CentreKind.SAFE_HOUSE, CentreKind.HEALTH_HOUSE})
# Places that keep clients overnight and so have a capacity that admissions fill.
RESIDENTIAL_KINDS = frozenset(
    {
        CentreKind.RESIDENTIAL_LEVEL_1,
        CentreKind.RESIDENTIAL_LEVEL_2,
        CentreKind.SAFE_HOUSE,
        CentreKind.HEALTH_HOUSE,
    }
)


class DischargeReason(Word):
    RETURNED_HOME = "returned_home"  # بازگشت به خانواده
    INDEPENDENT = "independent"  # زندگی مستقل
    REFERRED = "referred"  # ارجاع
    LEFT = "left"  # ترک مرکز
    OTHER = "other"


class Role(Word):
    CALL_TAKER = "call_taker"  # کارشناس خط ۱۲۳
    DISPATCHER = "dispatcher"  # اعزام‌کننده
    TEAM = "team"  # گروه سیار
    CENTRE_STAFF = "centre_staff"  # کارکنان مرکز
    PROVINCIAL_SUPERVISOR = "provincial_supervisor"  # ناظر استانی
    NATIONAL_EOC = "national_eoc"  # مرکز عملیات اضطراری کشور
    AUDITOR = "auditor"  # حسابرس / بازرس
    PARTNER = "partner"  # سازمان همکار: police, judiciary and others that refer people and read the exchange feed
    WATCHDOG = "watchdog"  # نگهبان ایمنی: the staff-safety watchdog's own service account
    SYSTEM = "system"  # the shared identity of histories before service accounts (never acts now)


NATIONAL = "IR"  # the province code of national-scope tokens

PERSIAN: dict[str, str] = {
    # categories
    "spouse_abuse": "همسرآزاری",
    "child_abuse": "کودک‌آزاری",
    "child_maltreatment": "فرزندآزاری",
    "elder_abuse": "سالمندآزاری",
    "disabled_abuse": "معلول‌آزاری",
    "family_dispute": "اختلافات خانوادگی",
    "spouse_addiction": "اعتیاد همسر",
    "suicide": "خودکشی",
    "runaway": "فرار از خانه",
    "street_children": "کودکان کار و خیابان",
    "divorce": "متقاضی طلاق",
    "other": "سایر",
    # priorities
    "urgent": "فوری",
    "high": "بالا",
    "normal": "عادی",
    "low": "کم",
    # team statuses
    "available": "آماده",
    "dispatched": "اعزام شده",
    "en_route": "در مسیر",
    "on_scene": "در محل",
    "transporting": "در حال انتقال",
    "at_centre": "در مرکز",
    "off_duty": "خارج از نوبت",
    "in_drill": "در مانور",  # a team taken into a drill (its real row says so)
    # centre kinds
    "residential_level_1": "مرکز شبانه‌روزی سطح ۱",
    "residential_level_2": "مرکز شبانه‌روزی سطح ۲",
    "outpatient": "مرکز سرپایی",
    "safe_house": "خانه امن",
    "health_house": "خانه سلامت",
    "social_service_base": "پایگاه خدمات اجتماعی",
    "mobile_base": "پایگاه اورژانس سیار",
    # alerts
    "emerging_harm": "آسیب اجتماعی نوپدید",
    # shifts
    "morning": "صبح",
    "evening": "عصر",
    "night": "شب",
    # risk flags
    "suicide_risk": "خطر خودکشی",
    "child_in_danger": "کودک در خطر",
    "violence_ongoing": "خشونت در جریان",
    "weapon": "سلاح",
    "staff_safety": "خطر برای کارکنان",
    # referrals and lines
    "line_1480": "ارجاع به ۱۴۸۰",
    "centre": "مرکز مداخله در بحران",
    "outside_agency": "دستگاه بیرونی",
    "123": "خط ۱۲۳",
    "1480": "خط ۱۴۸۰",
    # routes
    "self": "خودمعرف",
    "line_123": "ارجاع از خط ۱۲۳",
    "mobile_team": "ارجاع از اورژانس سیار",
    "other_centre": "ارجاع از سایر مراکز",
    "police": "مراجع انتظامی",
    "judiciary": "مراجع قضایی",
    "other_organization": "سایر سازمان‌ها",
    # incident outcomes
    "resolved_on_scene": "حل در محل",
    "admitted": "پذیرش در مرکز",
    "referred": "ارجاع",
    "no_contact": "عدم دسترسی",
    "false_report": "گزارش نادرست",
    "cancelled": "لغو",
    # discharge reasons
    "returned_home": "بازگشت به خانواده",
    "independent": "زندگی مستقل",
    "left": "ترک مرکز",
    # call services
    "counselling": "مشاوره",
    "social_work": "مددکاری",
    "medical": "بهداشتی و درمانی",
    "psychological": "روانشناختی",
    "legal": "حقوقی",
    "financial": "مالی",
    "educational": "فرهنگی و آموزشی",
    # skills (مهارت)
    "social_worker": "مددکار اجتماعی",
    "woman_social_worker": "مددکار زن",
    "psychologist": "روانشناس",
    "lawyer": "مشاور حقوقی",
    # danger to staff (پرچم خطر)
    "violent_relative": "بستگان خشن",
    "dog": "سگ",
    "assault_on_staff": "سابقه ضرب و جرح کارکنان",
    "in_force": "معتبر",
    "review_due": "نیازمند بازبینی",
    "expired": "منقضی",
    # call-backs (تماس پیگیری)
    "scheduled": "زمان‌بندی شده",
    "due": "موعد رسیده",
    "overdue": "دیرکرد",
    # recommendation reasons
    "busy": "مشغول",
    "conflict": "تعارض با خانواده",
    "crew_too_small": "قاعده دو نفره",
    "duress": "هشدار اضطرار",
    "has_skill": "دارای",
    "missing_skill": "فاقد",
    "on_shift": "در نوبت",
    "distance": "فاصله",
    # call states
    "received": "دریافت شده",
    "classified": "طبقه‌بندی شده",
    "counselled": "مشاوره داده شد",
    "escalated": "ارجاع به مورد",
    "linked": "پیوند به مورد باز",
}

# The same words in English, as the pages and the API show them (one vocabulary: the pages get
# both from the system, ui_bridge.server.data_module and GET /api/v1/vocabulary).
ENGLISH: dict[str, str] = {
    "123": "Line 123",
    "1480": "Line 1480",
    "spouse_abuse": "Spouse abuse",
    "child_abuse": "Child abuse",
    "child_maltreatment": "Child maltreatment",
    "elder_abuse": "Elder abuse",
    "disabled_abuse": "Disabled abuse",
    "family_dispute": "Family dispute",
    "spouse_addiction": "Spouse addiction",
    "suicide": "Suicide",
    "runaway": "Runaway",
    "street_children": "Street children",
    "divorce": "Divorce",
    "other": "Other",
    "urgent": "Urgent",
    "high": "High",
    "normal": "Normal",
    "low": "Low",
    "available": "Available",
    "in_drill": "In drill",
    "dispatched": "Dispatched",
    "en_route": "En route",
    "on_scene": "On scene",
    "transporting": "Transporting",
    "at_centre": "At centre",
    "off_duty": "Off duty",
    "residential_level_1": "Residential centre L1",
    "residential_level_2": "Residential centre L2",
    "outpatient": "Outpatient centre",
    "safe_house": "Safe house",
    "health_house": "Health house",
    "social_service_base": "Social service base",
    "mobile_base": "Mobile base",
    "morning": "Morning",
    "evening": "Evening",
    "night": "Night",
    "emerging_harm": "Emerging social harm",
    "suicide_risk": "Suicide risk",
    "child_in_danger": "Child in danger",
    "violence_ongoing": "Violence ongoing",
    "weapon": "Weapon",
    "staff_safety": "Staff safety",
    "line_1480": "Line 1480",
    "centre": "Centre",
    "outside_agency": "Outside agency",
    "self": "Self",
    "line_123": "Line 123",
    "mobile_team": "Mobile team",
    "other_centre": "Other centre",
    "police": "Police",
    "judiciary": "Judiciary",
    "other_organization": "Other organization",
    "resolved_on_scene": "Resolved on scene",
    "admitted": "Admitted",
    "referred": "Referred",
    "no_contact": "No contact",
    "false_report": "False report",
    "cancelled": "Cancelled",
    "returned_home": "Returned home",
    "independent": "Independent",
    "left": "Left",
    "counselling": "Counselling",
    "social_work": "Social work",
    "medical": "Medical",
    "psychological": "Psychological",
    "legal": "Legal",
    "financial": "Financial",
    "educational": "Educational",
    "social_worker": "Social worker",
    "woman_social_worker": "Woman social worker",
    "psychologist": "Psychologist",
    "lawyer": "Lawyer",
    "violent_relative": "Violent relative",
    "dog": "Dog",
    "assault_on_staff": "Assault on staff",
    "in_force": "In force",
    "review_due": "Review due",
    "expired": "Expired",
    "scheduled": "Scheduled",
    "due": "Due",
    "overdue": "Overdue",
    "busy": "Busy",
    "conflict": "Conflict",
    "crew_too_small": "Crew too small",
    "duress": "Duress",
    "has_skill": "Has skill",
    "missing_skill": "Missing skill",
    "on_shift": "On shift",
    "distance": "Distance",
    "received": "Received",
    "classified": "Classified",
    "counselled": "Counselled",
    "escalated": "Escalated",
    "linked": "Linked",
}


def vocabulary() -> dict[str, list[str]]:
    """Each word of the service: [Persian, English]."""
    return {key: [fa, ENGLISH[key]] for key, fa in PERSIAN.items()}


class Skill(Word):
    """What a team's crew brings to a case (مهارت), declared when its shift starts."""

    SOCIAL_WORKER = "social_worker"  # مددکار اجتماعی
    WOMAN_SOCIAL_WORKER = "woman_social_worker"  # مددکار زن
    PSYCHOLOGIST = "psychologist"  # روانشناس
    LAWYER = "lawyer"  # مشاور حقوقی
# The words of the live boards, one vocabulary for the dashboard (ui-bridge/static/words.json,
# a test keeps them equal) and the terminal board (eoc board).
BOARD_TERMS: dict[str, str] = {
    "teams": "گروه‌های سیار",
    "incidents": "صف موارد",
    "occupancy": "ظرفیت مراکز و خانه‌ها",
    "alerts": "هشدارها",
    "figures": "آمار امروز",
    "unassigned": "بدون گروه",
    "drill": "مانور",
    "alert_check_in_missed": "گزارش ایمنی گروه نرسید",
    "alert_centre_full": "مرکز پر است",
    "alert_centre_nearly_full": "مرکز نزدیک به پر",
    "alert_urgent_unassigned": "مورد فوری بدون گروه",
    "alert_transfer_overdue": "پایان قرنطینه، انتقال انجام نشده",
    "alert_dead_letter": "رویداد پردازش‌نشده",
    "alert_emerging_harm": "آسیب اجتماعی نوپدید",
}
