import pytest

from kassa.customer.tax_id import InvalidTaxID, TaxIDFormat, parse_tax_id


def arabic_indic(text: str) -> str:
    return "".join(chr(0x0660 + int(char)) if char.isdigit() else char for char in text)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


# Example numbers are the ones python-stdnum documents as valid.
VALID = [
    # EU: compacted, with the country prefix, whether or not the input had one.
    ("DE 136 695 976", "DE", "DE136695976", TaxIDFormat.eu_vat),
    ("136695976", "DE", "DE136695976", TaxIDFormat.eu_vat),
    ("de136695976", "de", "DE136695976", TaxIDFormat.eu_vat),
    ("DE136695976", None, "DE136695976", TaxIDFormat.eu_vat),
    ("FR 61 954 506 077", "FR", "FR61954506077", TaxIDFormat.eu_vat),
    ("61954506077", "FR", "FR61954506077", TaxIDFormat.eu_vat),
    ("K7399859412", "FR", "FRK7399859412", TaxIDFormat.eu_vat),
    ("Fr 40 303 265 045", None, "FR40303265045", TaxIDFormat.eu_vat),
    ("EL 094259216", "GR", "EL094259216", TaxIDFormat.eu_vat),
    ("094259216", "GR", "EL094259216", TaxIDFormat.eu_vat),
    ("GR094259216", "GR", "EL094259216", TaxIDFormat.eu_vat),
    ("EL094259216", None, "EL094259216", TaxIDFormat.eu_vat),
    ("U13585627", "AT", "ATU13585627", TaxIDFormat.eu_vat),
    ("BE697449992", "BE", "BE0697449992", TaxIDFormat.eu_vat),
    ("NL004495445B01", None, "NL004495445B01", TaxIDFormat.eu_vat),
    ("IT 00743110157", "IT", "IT00743110157", TaxIDFormat.eu_vat),
    ("ES B-58378431", "ES", "ESB58378431", TaxIDFormat.eu_vat),
    # Northern Ireland traders have EU VAT numbers and a GB billing address.
    ("XI 980 7806 84", "GB", "XI980780684", TaxIDFormat.eu_vat),
    ("XI980780684", None, "XI980780684", TaxIDFormat.eu_vat),
    # EU one-stop shop numbers, held by sellers outside the EU.
    ("EU 372022452", None, "EU372022452", TaxIDFormat.eu_oss_vat),
    ("EU372022452", "US", "EU372022452", TaxIDFormat.eu_oss_vat),
    ("IM3720000224", None, "IM3720000224", TaxIDFormat.eu_oss_vat),
    ("GB 980 7806 84", "GB", "980780684", TaxIDFormat.gb_vat),
    ("980780684", "GB", "980780684", TaxIDFormat.gb_vat),
    ("NO 995 525 828 MVA", "NO", "995525828MVA", TaxIDFormat.no_vat),
    ("CHE-107.787.577 IVA", "CH", "CHE107787577IVA", TaxIDFormat.ch_vat),
    ("CHE-107.787.577 MWST", "CH", "CHE107787577MWST", TaxIDFormat.ch_vat),
    ("CHE-100.155.212", "CH", "CHE100155212", TaxIDFormat.ch_uid),
    ("83 914 571 673", "AU", "83914571673", TaxIDFormat.au_abn),
    ("91-1144442", "US", "911144442", TaxIDFormat.us_ein),
    ("12302 6635", "CA", "123026635", TaxIDFormat.ca_bn),
    ("12302 6635 RC 0001", "CA", "123026635RC0001", TaxIDFormat.ca_bn),
    ("27AAPFU0939F1ZV", "IN", "27AAPFU0939F1ZV", TaxIDFormat.in_gst),
    ("27aapfu0939f1zv", "IN", "27AAPFU0939F1ZV", TaxIDFormat.in_gst),
    ("U-132950-X", "AD", "U132950X", TaxIDFormat.ad_nrt),
    ("20-05536168-2", "AR", "20055361682", TaxIDFormat.ar_cuit),
    ("16.727.230/0001-97", "BR", "16727230000197", TaxIDFormat.br_cnpj),
    ("390.533.447-05", "BR", "39053344705", TaxIDFormat.br_cpf),
    ("76086428-5", "CL", "760864285", TaxIDFormat.cl_tin),
    ("91110000600037341L", "CN", "91110000600037341L", TaxIDFormat.cn_tin),
    ("213.123.432-1", "CO", "2131234321", TaxIDFormat.co_nit),
    ("3-101-999999", "CR", "3101999999", TaxIDFormat.cr_tin),
    ("3-0455-0175", "CR", "0304550175", TaxIDFormat.cr_tin),
    ("1-01-85004-3", "DO", "101850043", TaxIDFormat.do_rcn),
    ("1792060346-001", "EC", "1792060346001", TaxIDFormat.ec_ruc),
    (arabic_indic("331-105-268"), "EG", "331105268", TaxIDFormat.eg_tin),
    ("01.312.166.0-091.000", "ID", "013121660091000", TaxIDFormat.id_npwp),
    ("516179157", "IL", "516179157", TaxIDFormat.il_vat),
    ("IS 00621", "IS", "00621", TaxIDFormat.is_vat),
    ("5-8356-7825-6246", "JP", "5835678256246", TaxIDFormat.jp_cn),
    ("P051365947M", "KE", "P051365947M", TaxIDFormat.ke_pin),
    ("116-82-00276", "KR", "1168200276", TaxIDFormat.kr_brn),
    (
        "\N{CYRILLIC CAPITAL LETTER EM}\N{CYRILLIC CAPITAL LETTER KA} 4020990116747",
        "MK",
        "4020990116747",
        TaxIDFormat.mk_vat,
    ),
    ("MAB-930714-8T4", "MX", "MAB9307148T4", TaxIDFormat.mx_rfc),
    ("NZ 49-098-576", "NZ", "49098576", TaxIDFormat.nz_gst),
    ("20512333797", "PE", "20512333797", TaxIDFormat.pe_ruc),
    ("101134702", "RS", "101134702", TaxIDFormat.rs_pib),
    ("1234567894", "RU", "1234567894", TaxIDFormat.ru_inn),
    ("197401143C", "SG", "197401143C", TaxIDFormat.sg_uen),
    ("0614-050707-104-8", "SV", "06140507071048", TaxIDFormat.sv_nit),
    ("0-99-4-000-61772-1", "TH", "0994000617721", TaxIDFormat.th_vat),
    ("4540536920", "TR", "4540536920", TaxIDFormat.tr_tin),
    ("00501503", "TW", "00501503", TaxIDFormat.tw_vat),
    ("21-100342-001-7", "UY", "211003420017", TaxIDFormat.uy_ruc),
    ("V-11470283-4", "VE", "V114702834", TaxIDFormat.ve_rif),
    ("0314409058-002", "VN", "0314409058002", TaxIDFormat.vn_tin),
    # Any Unicode whitespace is a separator (a bare stdnum chokes on some of it).
    ("\tDE\u00a0136 695\n976 ", "DE", "DE136695976", TaxIDFormat.eu_vat),
    ("NO\t995 525 828\tMVA", "NO", "995525828MVA", TaxIDFormat.no_vat),
    ("76086428\n-5", "CL", "760864285", TaxIDFormat.cl_tin),
]

INVALID = [
    # Bad checksum.
    ("DE136695978", "DE", "Invalid EU VAT number for DE"),
    ("FR 84 323 140 391", "FR", "Invalid EU VAT number for FR"),
    ("EL 123456781", "GR", "Invalid EU VAT number for GR"),
    ("802311781", "GB", "Invalid VAT number for GB"),
    ("NO 995 525 829 MVA", "NO", "Invalid VAT number for NO"),
    ("CHE-107.787.578 IVA", "CH", "Invalid VAT number or UID for CH"),
    ("99 999 999 999", "AU", "Invalid ABN for AU"),
    ("123456783", "CA", "Invalid business number for CA"),
    ("27AAPFU0939F1ZO", "IN", "Invalid GSTIN for IN"),
    # Wrong length.
    ("DE13669597", "DE", "Invalid EU VAT number for DE"),
    ("2345678", "FR", "Invalid EU VAT number for FR"),
    ("EL 12345", "GR", "Invalid EU VAT number for GR"),
    ("GB 980 7806 8", "GB", "Invalid VAT number for GB"),
    ("CHE-107.787.57 MWST", "CH", "Invalid VAT number or UID for CH"),
    ("83 914 571 67", "AU", "Invalid ABN for AU"),
    ("91-114444", "US", "Invalid EIN for US"),
    ("12302 663", "CA", "Invalid business number for CA"),
    ("27AAPFU0939F1Z", "IN", "Invalid GSTIN for IN"),
    # Right digits, wrong shape for the standard.
    ("911-14-4442", "US", "Invalid EIN for US"),
    ("07-1144442", "US", "Invalid EIN for US"),
    ("995525828", "NO", "Invalid VAT number for NO"),  # Norwegian VAT numbers end in MVA
    # A prefix that names another country than the billing address.
    ("FR61954506077", "DE", "EU VAT number prefix FR does not match billing country DE"),
    ("DE136695976", "FR", "EU VAT number prefix DE does not match billing country FR"),
    ("EL094259216", "CY", "EU VAT number prefix EL does not match billing country CY"),
    ("XI980780684", "IE", "EU VAT number prefix XI does not match billing country IE"),
    ("DE136695976", "US", "Invalid EIN for US"),
    ("GB980780684", "DE", "Invalid EU VAT number for DE"),
    # Without an EU prefix the format depends on the country.
    ("911144442", None, "A billing country is required to validate this tax ID"),
    ("GB980780684", None, "A billing country is required to validate this tax ID"),
    # Countries without a supported format.
    ("12345678", "HK", "Tax IDs are not supported for HK"),
    ("12345678", "ZZ", "Tax IDs are not supported for ZZ"),
    # Empty.
    ("", "DE", "Tax ID is empty"),
    (" \t\n", None, "Tax ID is empty"),
    # Garbage, including look-alike Unicode letters and digits.
    ("not a tax id", "DE", "Invalid EU VAT number for DE"),
    ("DE1366959" + arabic_indic("7") + "6", "DE", "Invalid EU VAT number for DE"),
    (fullwidth("DE136695976"), "DE", "Invalid EU VAT number for DE"),
    ("DE136695976\u200b", "DE", "Invalid EU VAT number for DE"),
    # These two pass stdnum's own validate().
    ("U-132950-\N{CYRILLIC CAPITAL LETTER KA}", "AD", "Invalid NRT for AD"),
    ("16.727" + arabic_indic("2") + ".30/0001-97", "BR", "Invalid CNPJ or CPF for BR"),
    ("7608642\u200b-5", "CL", "Invalid RUT for CL"),
    ("🧾", "GB", "Invalid VAT number for GB"),
    ("\x00", "US", "Invalid EIN for US"),
]


@pytest.mark.parametrize(("value", "country", "compact", "tax_id_format"), VALID)
def test_valid(value: str, country: str | None, compact: str, tax_id_format: TaxIDFormat) -> None:
    assert parse_tax_id(value, country) == (compact, tax_id_format)


@pytest.mark.parametrize(("value", "country", "message"), INVALID)
def test_invalid(value: str, country: str | None, message: str) -> None:
    with pytest.raises(InvalidTaxID) as exc_info:
        parse_tax_id(value, country)
    assert str(exc_info.value) == message


def test_contract_examples() -> None:
    assert parse_tax_id("911144442", "US") == ("911144442", "us_ein")
    assert parse_tax_id("FR61954506077", "FR") == ("FR61954506077", "eu_vat")


@pytest.mark.parametrize(("value", "country", "compact", "tax_id_format"), VALID)
def test_compact_value_parses_to_itself(
    value: str, country: str | None, compact: str, tax_id_format: TaxIDFormat
) -> None:
    # Stored values are parsed again when the billing address changes.
    assert parse_tax_id(compact, country) == (compact, tax_id_format)
