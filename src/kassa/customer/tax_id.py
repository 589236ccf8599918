"""Customer tax ID validation.

The contract takes a tax ID as a plain string next to the billing country and
returns it as ``[value, format]``. Checksums and separators are python-stdnum's
business; this module only decides which of its validators applies and which
contract format the result gets. Validation is offline: VIES is never queried.
"""

import re
from enum import StrEnum
from typing import Protocol

import stdnum.ad.nrt
import stdnum.ar.cuit
import stdnum.au.abn
import stdnum.br.cnpj
import stdnum.br.cpf
import stdnum.ca.bn
import stdnum.ch.uid
import stdnum.ch.vat
import stdnum.cl.rut
import stdnum.cn.uscc
import stdnum.co.nit
import stdnum.cr.cpf
import stdnum.cr.cpj
import stdnum.do.rnc
import stdnum.ec.ruc
import stdnum.eg.tn
import stdnum.eu.oss
import stdnum.eu.vat
import stdnum.gb.vat
import stdnum.id.npwp
import stdnum.il.hp
import stdnum.il.idnr
import stdnum.in_.gstin
import stdnum.is_.vsk
import stdnum.jp.cn
import stdnum.ke.pin
import stdnum.kr.brn
import stdnum.mk.edb
import stdnum.mx.rfc
import stdnum.no.mva
import stdnum.nz.ird
import stdnum.pe.ruc
import stdnum.rs.pib
import stdnum.ru.inn
import stdnum.sg.uen
import stdnum.sv.nit
import stdnum.th.tin
import stdnum.tr.vkn
import stdnum.tw.ubn
import stdnum.us.ein
import stdnum.uy.rut
import stdnum.ve.rif
import stdnum.vn.mst


class InvalidTaxID(ValueError):
    """The tax ID is malformed, fails its checksum or does not fit the billing country."""


class TaxIDFormat(StrEnum):
    """The contract's ``TaxIDFormat`` (Stripe's tax ID types)."""

    ad_nrt = "ad_nrt"
    ae_trn = "ae_trn"
    ar_cuit = "ar_cuit"
    au_abn = "au_abn"
    au_arn = "au_arn"
    bg_uic = "bg_uic"
    bh_vat = "bh_vat"
    bo_tin = "bo_tin"
    br_cnpj = "br_cnpj"
    br_cpf = "br_cpf"
    ca_bn = "ca_bn"
    ca_gst_hst = "ca_gst_hst"
    ca_pst_bc = "ca_pst_bc"
    ca_pst_mb = "ca_pst_mb"
    ca_pst_sk = "ca_pst_sk"
    ca_qst = "ca_qst"
    ch_uid = "ch_uid"
    ch_vat = "ch_vat"
    cl_tin = "cl_tin"
    cn_tin = "cn_tin"
    co_nit = "co_nit"
    cr_tin = "cr_tin"
    de_stn = "de_stn"
    do_rcn = "do_rcn"
    ec_ruc = "ec_ruc"
    eg_tin = "eg_tin"
    es_cif = "es_cif"
    eu_oss_vat = "eu_oss_vat"
    eu_vat = "eu_vat"
    gb_vat = "gb_vat"
    ge_vat = "ge_vat"
    hk_br = "hk_br"
    hr_oib = "hr_oib"
    hu_tin = "hu_tin"
    id_npwp = "id_npwp"
    il_vat = "il_vat"
    in_gst = "in_gst"
    is_vat = "is_vat"
    jp_cn = "jp_cn"
    jp_rn = "jp_rn"
    jp_trn = "jp_trn"
    ke_pin = "ke_pin"
    kr_brn = "kr_brn"
    kz_bin = "kz_bin"
    li_uid = "li_uid"
    mk_vat = "mk_vat"
    mx_rfc = "mx_rfc"
    my_frp = "my_frp"
    my_itn = "my_itn"
    my_sst = "my_sst"
    ng_tin = "ng_tin"
    no_vat = "no_vat"
    no_voec = "no_voec"
    nz_gst = "nz_gst"
    om_vat = "om_vat"
    pe_ruc = "pe_ruc"
    ph_tin = "ph_tin"
    ro_tin = "ro_tin"
    rs_pib = "rs_pib"
    ru_inn = "ru_inn"
    ru_kpp = "ru_kpp"
    sa_vat = "sa_vat"
    sg_gst = "sg_gst"
    sg_uen = "sg_uen"
    si_tin = "si_tin"
    sv_nit = "sv_nit"
    th_vat = "th_vat"
    tr_tin = "tr_tin"
    tw_vat = "tw_vat"
    ua_vat = "ua_vat"
    us_ein = "us_ein"
    uy_ruc = "uy_ruc"
    ve_rif = "ve_rif"
    vn_tin = "vn_tin"
    za_vat = "za_vat"
    mu_tan = "mu_tan"


class _Validator(Protocol):
    """A stdnum number module: ``validate`` returns the compact form or raises."""

    def validate(self, number: str) -> str: ...


# stdnum lists Northern Ireland (XI) among the member states it checks.
_EU_COUNTRIES = frozenset(cc.upper() for cc in stdnum.eu.vat.MEMBER_STATES) - {"XI"}

# VAT number prefix -> billing country. Greece's VAT prefix is EL (GR is accepted
# and rewritten); XI numbers belong to Northern Ireland traders, billed in GB.
_EU_VAT_PREFIXES = {country: country for country in _EU_COUNTRIES} | {"EL": "GR", "XI": "GB"}

# What a compact number may consist of (& and Ñ occur in Mexican RFCs). Some stdnum
# modules let non-ASCII letters or digits through, which no tax authority issues.
_COMPACT = re.compile("[0-9A-Z&Ñ]+")

# Billing country -> (local name of the number, [(format, stdnum module)] tried in order).
# EU member states are handled separately, all as eu_vat.
_COUNTRY_SCHEMES: dict[str, tuple[str, list[tuple[TaxIDFormat, _Validator]]]] = {
    "AD": ("NRT", [(TaxIDFormat.ad_nrt, stdnum.ad.nrt)]),
    "AR": ("CUIT", [(TaxIDFormat.ar_cuit, stdnum.ar.cuit)]),
    "AU": ("ABN", [(TaxIDFormat.au_abn, stdnum.au.abn)]),
    "BR": (
        "CNPJ or CPF",
        [(TaxIDFormat.br_cnpj, stdnum.br.cnpj), (TaxIDFormat.br_cpf, stdnum.br.cpf)],
    ),
    "CA": ("business number", [(TaxIDFormat.ca_bn, stdnum.ca.bn)]),
    "CH": (
        "VAT number or UID",
        [(TaxIDFormat.ch_vat, stdnum.ch.vat), (TaxIDFormat.ch_uid, stdnum.ch.uid)],
    ),
    "CL": ("RUT", [(TaxIDFormat.cl_tin, stdnum.cl.rut)]),
    "CN": ("unified social credit code", [(TaxIDFormat.cn_tin, stdnum.cn.uscc)]),
    "CO": ("NIT", [(TaxIDFormat.co_nit, stdnum.co.nit)]),
    "CR": ("cédula", [(TaxIDFormat.cr_tin, stdnum.cr.cpj), (TaxIDFormat.cr_tin, stdnum.cr.cpf)]),
    "DO": ("RNC", [(TaxIDFormat.do_rcn, stdnum.do.rnc)]),
    "EC": ("RUC", [(TaxIDFormat.ec_ruc, stdnum.ec.ruc)]),
    "EG": ("tax registration number", [(TaxIDFormat.eg_tin, stdnum.eg.tn)]),
    "GB": ("VAT number", [(TaxIDFormat.gb_vat, stdnum.gb.vat)]),
    "ID": ("NPWP", [(TaxIDFormat.id_npwp, stdnum.id.npwp)]),
    # A VAT dealer's number is its company number, or the owner's identity number.
    "IL": (
        "VAT number",
        [(TaxIDFormat.il_vat, stdnum.il.hp), (TaxIDFormat.il_vat, stdnum.il.idnr)],
    ),
    "IN": ("GSTIN", [(TaxIDFormat.in_gst, stdnum.in_.gstin)]),
    "IS": ("VAT number", [(TaxIDFormat.is_vat, stdnum.is_.vsk)]),
    "JP": ("corporate number", [(TaxIDFormat.jp_cn, stdnum.jp.cn)]),
    "KE": ("PIN", [(TaxIDFormat.ke_pin, stdnum.ke.pin)]),
    "KR": ("business registration number", [(TaxIDFormat.kr_brn, stdnum.kr.brn)]),
    "MK": ("VAT number", [(TaxIDFormat.mk_vat, stdnum.mk.edb)]),
    "MX": ("RFC", [(TaxIDFormat.mx_rfc, stdnum.mx.rfc)]),
    "NO": ("VAT number", [(TaxIDFormat.no_vat, stdnum.no.mva)]),
    "NZ": ("GST number", [(TaxIDFormat.nz_gst, stdnum.nz.ird)]),
    "PE": ("RUC", [(TaxIDFormat.pe_ruc, stdnum.pe.ruc)]),
    "RS": ("PIB", [(TaxIDFormat.rs_pib, stdnum.rs.pib)]),
    "RU": ("INN", [(TaxIDFormat.ru_inn, stdnum.ru.inn)]),
    "SG": ("UEN", [(TaxIDFormat.sg_uen, stdnum.sg.uen)]),
    "SV": ("NIT", [(TaxIDFormat.sv_nit, stdnum.sv.nit)]),
    "TH": ("VAT number", [(TaxIDFormat.th_vat, stdnum.th.tin)]),
    "TR": ("tax number", [(TaxIDFormat.tr_tin, stdnum.tr.vkn)]),
    "TW": ("VAT number", [(TaxIDFormat.tw_vat, stdnum.tw.ubn)]),
    "US": ("EIN", [(TaxIDFormat.us_ein, stdnum.us.ein)]),
    "UY": ("RUT", [(TaxIDFormat.uy_ruc, stdnum.uy.rut)]),
    "VE": ("RIF", [(TaxIDFormat.ve_rif, stdnum.ve.rif)]),
    "VN": ("tax number", [(TaxIDFormat.vn_tin, stdnum.vn.mst)]),
}


def parse_tax_id(value: str, country: str | None) -> tuple[str, TaxIDFormat]:
    """Normalise and validate a tax ID for a billing country; return (compact value, format).

    ``country`` is an ISO 3166-1 alpha-2 code. It may be omitted when the value
    carries an EU VAT prefix (``DE…``, ``EL…``) or is an EU OSS number.
    """
    # Any run of Unicode whitespace (tabs, no-break spaces) becomes the one space
    # that every stdnum module knows how to strip.
    value = " ".join(value.split())
    if not value:
        raise InvalidTaxID("Tax ID is empty")
    country = country.upper() if country else None

    # Non-EU sellers registered for the EU one-stop shop, whatever their country.
    if stdnum.eu.oss.is_valid(value):
        return stdnum.eu.oss.compact(value), TaxIDFormat.eu_oss_vat

    prefix = value[:2].upper()
    prefix_country = _EU_VAT_PREFIXES.get(prefix)
    if prefix_country is not None and country in (None, prefix_country):
        compact = _validate_eu_vat(value)
        if compact is None:
            raise InvalidTaxID(f"Invalid EU VAT number for {prefix_country}")
        return compact, TaxIDFormat.eu_vat
    if country is None:
        raise InvalidTaxID("A billing country is required to validate this tax ID")

    if country in _EU_COUNTRIES:
        # Try the country's own prefix first: some national numbers (French ones
        # with a letter key) can begin with two letters that look like a prefix.
        compact = _validate_eu_vat(("EL" if country == "GR" else country) + value)
        if compact is not None:
            return compact, TaxIDFormat.eu_vat
        if prefix_country is not None:
            raise InvalidTaxID(
                f"EU VAT number prefix {prefix} does not match billing country {country}"
            )
        raise InvalidTaxID(f"Invalid EU VAT number for {country}")

    if country not in _COUNTRY_SCHEMES:
        raise InvalidTaxID(f"Tax IDs are not supported for {country}")
    name, schemes = _COUNTRY_SCHEMES[country]
    for tax_id_format, module in schemes:
        compact = _validate(module, value)
        if compact is not None:
            return compact, tax_id_format
    raise InvalidTaxID(f"Invalid {name} for {country}")


def _validate_eu_vat(number: str) -> str | None:
    compact = _validate(stdnum.eu.vat, number)
    if compact is not None and compact.startswith("GR"):
        compact = "EL" + compact[2:]
    return compact


def _validate(module: _Validator, number: str) -> str | None:
    """The compact number, or None if the module rejects it."""
    try:
        compact = module.validate(number)
    except ValueError:  # stdnum's ValidationError, or a stray one from int()
        return None
    return compact if _COMPACT.fullmatch(compact) else None
