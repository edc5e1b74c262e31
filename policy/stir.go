package policy

import "strings"

// STIR is the STIR/SHAKEN verification result the PBX handed over with the
// call (Asterisk's STIR_SHAKEN(0,attestation) and
// STIR_SHAKEN(0,verify_result), passed by the dialplan includes as the
// arguments attest= and verify=). The zero value is "no result": the PBX
// does not verify, or this call carried none; it changes no decision.
type STIR struct {
	// Attestation is "A", "B" or "C", "none" when Asterisk stored a result
	// without one (no Identity header, or a verification that failed
	// before the signature was checked), "" when there is no result.
	Attestation string
	// Verify is Asterisk's verify_result ("success", "cid_orig_tn_mismatch",
	// ...; see VerifyResults), "unknown" for a code callscreen does not
	// know, "" when none was passed (always so with Attestation "none").
	Verify string
}

// Attestations are the values STIR.Attestation takes when a result exists.
var Attestations = []string{"A", "B", "C", "none"}

// VerifyResults are the verify_result codes of Asterisk 22's
// res_stir_shaken (res/res_stir_shaken/verification.c, vs_rc_map), plus
// invalid_or_no_x5u, which the enum has and the map lacks.
var VerifyResults = []string{
	"success", "disabled", "invalid_arguments", "internal_error", "missing_identity_hdr",
	"missing_date_hdr", "date_hdr_parse_failure", "date_hdr_range_error", "missing_jwt_hdr",
	"invalid_or_no_x5u", "cert_cache_miss", "cert_cache_invalid", "cert_cache_expired",
	"cert_retrieval_failure", "cert_contents_invalid", "cert_not_trusted", "cert_date_failure",
	"cert_no_tn_auth_ext", "cert_no_spc_in_auth_ext", "no_raw_key", "signature_validation",
	"missing_iat", "iat_range_error", "invalid_or_no_ppt", "invalid_or_no_alg", "invalid_or_no_typ",
	"invalid_or_no_grants", "invalid_or_no_attest", "missing_origid", "missing_orig_tn",
	"cid_orig_tn_mismatch", "missing_dest_tn", "invalid_header", "invalid_grant", "invalid_or_no_callerid",
}

// ParseSTIR reads the attest= and verify= values a dialplan handed over.
// ok is false when attest is set but not one of Attestations (the result
// is then ignored); a verify code not in VerifyResults reads "unknown", so
// no value from outside reaches a log or a metric label as it came. Both
// empty is no result, and ok.
func ParseSTIR(attest, verify string) (s STIR, ok bool) {
	attest, verify = strings.TrimSpace(attest), strings.ToLower(strings.TrimSpace(verify))
	if attest == "" {
		return STIR{}, verify == ""
	}
	switch strings.ToUpper(attest) {
	case "A", "B", "C":
		s.Attestation = strings.ToUpper(attest)
	case "NONE":
		s.Attestation = "none"
	default:
		return STIR{}, false
	}
	switch {
	case verify == "":
	case knownVerify(verify):
		s.Verify = verify
	default:
		s.Verify = "unknown"
	}
	return s, true
}

func knownVerify(v string) bool {
	for _, k := range VerifyResults {
		if k == v {
			return true
		}
	}
	return false
}

// Present reports whether the call carried a result.
func (s STIR) Present() bool { return s.Attestation != "" }

// Verified reports whether Asterisk verified the signature.
func (s STIR) Verified() bool { return s.Attestation != "none" && s.Verify == "success" }

// Reason is the reason code the result raises, "" when none: A verified is
// stir.verified, B verified stir.partial, anything else present (C, no
// attestation, a failed or unreported verification) stir.unverified.
func (s STIR) Reason() Reason {
	switch {
	case !s.Present():
		return ""
	case s.Verified() && s.Attestation == "A":
		return STIRVerified
	case s.Verified() && s.Attestation == "B":
		return STIRPartial
	}
	return STIRUnverified
}
