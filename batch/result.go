package batch

import "time"

// Outcome is what happened to one input record. The values are the words written
// in the outcome column of the result file.
type Outcome string

// The outcomes of SPEC.md section 5.
const (
	OutcomeReset        Outcome = "reset"         // the API answered 2xx without "Error": true
	OutcomeFailed       Outcome = "failed"        // final non-2xx answer or transport error
	OutcomeInvalid      Outcome = "invalid"       // not called: the value is not a usable ICCID
	OutcomeDuplicate    Outcome = "duplicate"     // not called: the ICCID appeared on an earlier row
	OutcomeSkipped      Outcome = "skipped"       // not called: an earlier run already reset it (--resume)
	OutcomeNotAttempted Outcome = "not_attempted" // not called: the run stopped first

	// OutcomeWouldReset is --dry-run's word for a SIM a real run would call.
	OutcomeWouldReset Outcome = "would_reset"
)

// Record is one non-blank input record, as the Reader yields it. A record whose
// Outcome is already set (invalid, duplicate, skipped) is never sent to the API.
type Record struct {
	Row     int     // spreadsheet row: header = 1, blank lines count, a multi-line cell is one row
	Line    int     // physical line where the record starts
	Raw     string  // the cell as read, before normalisation
	ICCID   string  // the normalised ICCID; empty when the value is unusable
	Outcome Outcome // preset for records that must not be sent; empty for a SIM to reset
	Message string  // why it is invalid, which row it repeats, or a warning (failed Luhn)
}

// Result is the one value that leaves package batch: the fate of one input record.
type Result struct {
	Row        int
	ICCID      string // the normalised ICCID, or the raw cell when it was invalid
	Outcome    Outcome
	StatusCode int // HTTP status of the final attempt; 0 when there was no answer
	Message    string
	Attempts   int           // HTTP attempts made, retries included
	Duration   time.Duration // from the first attempt to the final answer
	FinishedAt time.Time
}

// Result is the result line of a record that is not sent (invalid, duplicate,
// skipped, or listed by a dry run), finished at the given time: its ICCID, or the
// raw cell when there is none, with the record's outcome and message.
func (rec Record) Result(finished time.Time) Result {
	iccid := rec.ICCID
	if iccid == "" {
		iccid = rec.Raw
	}
	return Result{Row: rec.Row, ICCID: iccid, Outcome: rec.Outcome, Message: rec.Message, FinishedAt: finished}
}
