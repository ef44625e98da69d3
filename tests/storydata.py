"""Stories for the story tests: one event told by several outlets and languages, written for newsmon's
tests (not taken from any site). Each is flagged by the shipped rules as its name says."""

from __future__ import annotations

from tests.sitedata import Story

WIRE_TEXT = [
    "Customers of the payment app PayFlux could not send money for most of Tuesday morning after a faulty "
    "update took the service down, the company said.",
    "PayFlux said the outage began shortly after 7 a.m. and affected about 40,000 transfers. Card payments in "
    "shops were declined for two hours and the support line was overwhelmed.",
    "Engineers rolled back the update at 9.30 a.m. PayFlux said all transfers would be completed by the "
    "evening and that no money had been lost.",
]
# a wire story and two outlets that run it with small edits
WIRE = Story("payflux-outage", "en", "PayFlux payment app down for hours after faulty update", WIRE_TEXT, 3.0)
WIRE_COPY_1 = Story("payflux-app-down", "en", "Payment app PayFlux down after update",
                    [p.replace("most of Tuesday morning", "much of Tuesday morning") for p in WIRE_TEXT], 2.5)
WIRE_COPY_2 = Story("payflux-transfers", "en", "PayFlux outage: 40,000 transfers stuck",
                    [*WIRE_TEXT, "The company apologised to its customers."], 2.4)

# one outage of Optus in three languages, then Optus denies the rumours about it
OPTUS_EN = Story("optus-outage", "en", "Optus mobile network outage leaves millions without service", [
    "Millions of Optus customers were left without mobile service on Wednesday after a nationwide network "
    "outage hit the operator.",
    "Optus said a fault in its core network caused the disruption and that engineers were working to restore "
    "calls and data.",
], 2.0)
OPTUS_DE = Story("optus-stoerung", "de", "Optus: Netzausfall legt Mobilfunk in Australien lahm", [
    "Ein landesweiter Netzausfall bei Optus hat am Mittwoch Millionen Kunden ohne Mobilfunk gelassen.",
    "Optus zufolge verursachte eine Störung im Kernnetz den Ausfall; Techniker arbeiteten an der Behebung.",
], 1.8)
OPTUS_VI = Story("optus-su-co", "vi", "Mạng di động Optus gặp sự cố, hàng triệu khách hàng mất sóng", [
    "Hàng triệu khách hàng của Optus bị mất sóng di động hôm thứ Tư sau khi mạng lưới của nhà mạng gặp sự cố "
    "trên toàn quốc.",
    "Optus cho biết lỗi trong mạng lõi đã gây ra sự gián đoạn và các kỹ sư đang khắc phục.",
], 1.6)
OPTUS_DENIES = Story("optus-denies", "en", "Optus denies rumours of a cyberattack behind the outage", [
    "Optus denied rumours circulating on social media that hackers had caused Wednesday's network failure.",
    "The operator said the claims were false and that a faulty router update was to blame.",
], 1.4)

# another company down the same day: another story
TELSTRA = Story("telstra-outage", "en", "Telstra outage cuts internet for thousands of customers", [
    "Thousands of Telstra customers lost their internet connection on Wednesday during a network outage.",
    "Telstra said services were being restored after a power failure at an exchange.",
], 1.2)

# Vodafone down last week and again today: two stories
VODAFONE_OLD = Story("vodafone-outage-last-week", "en", "Vodafone network outage disrupts mobile service", [
    "Vodafone customers could not make calls for several hours after a network outage on Monday.",
    "Vodafone said a software fault caused the disruption and apologised to customers.",
], 8 * 24.0)
VODAFONE_NEW = Story("vodafone-outage-again", "en", "Vodafone mobile network down again", [
    "Vodafone customers lost mobile service again on Wednesday in a second network outage in a week.",
    "Vodafone said engineers were investigating the fault.",
], 1.0)
