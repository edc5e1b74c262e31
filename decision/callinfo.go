package decision

// CallInfo is what the transport knows about the call before the flow asks
// anything: the AGI environment block or the StasisStart event.
type CallInfo struct {
	// ID is the channel's unique id (agi_uniqueid, channel.id).
	ID string
	// Channel is the channel name ("PJSIP/trunk-00000001").
	Channel string
	// CallerNumber and CallerName are the caller ID, "" when Asterisk
	// reported none.
	CallerNumber, CallerName string
	// Presentation is the calling presentation as Asterisk names it
	// ("allowed_not_screened", "prohib") or "" when the transport does not
	// know it yet; PresentationCode is agi_callingpres when known, -1
	// otherwise.
	Presentation     string
	PresentationCode int
	// Dialed is the number dialed: DNID when known, else the extension.
	Dialed string
	// Context, Extension are where the dialplan handed the call over.
	Context, Extension string
	// Profile and Tenant name the policy to apply; "" selects the default.
	Profile, Tenant string
	// Language is the channel language, for prompts.
	Language string
	// Transport is "agi" or "ari".
	Transport string
	// Screened is CALLSCREEN_ID as the dialplan handed it over with the
	// call (the includes pass it as the AGI or Stasis argument
	// screened=ID), and
	// ScreenedKnown says it was handed over, empty or not. When it was,
	// the flow does not read CALLSCREEN_ID from the channel: one round
	// trip less.
	Screened      string
	ScreenedKnown bool
	// Attestation and VerifyResult are the STIR/SHAKEN result the
	// dialplan handed over (the includes pass STIR_SHAKEN(0,attestation)
	// and (0,verify_result) as attest= and verify=), as received; both ""
	// when the PBX passed none. The flow validates them
	// (policy.ParseSTIR).
	Attestation, VerifyResult string
	// HeaderInjection is true when the caller ID carried line breaks the
	// transport read back into one value (CallerName then holds them as
	// spaces): the decision carries caller.header_injection.
	HeaderInjection bool
}
