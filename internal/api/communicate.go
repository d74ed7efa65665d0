package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/intervention"
	"ward/internal/store"
)

// communicateBody is the reference's communicate request: a message to a
// directory group's members or to listed users (one of the two).
type communicateBody struct {
	Protocol string  `json:"protocol" enum:"email" doc:"Only email is supported."`
	Group    string  `json:"group,omitempty" maxLength:"200" doc:"A directory group's name: its members are the recipients."`
	Users    []int64 `json:"users,omitempty" maxItems:"500" doc:"User ids of the recipients (instead of group)."`
	Subject  string  `json:"subject" doc:"1 to 78 characters, one line."`
	Message  string  `json:"message" doc:"Plain text, at most 64 KiB. Never logged."`
}

type communicateMessageJSON struct {
	UserID    int64  `json:"user_id"`
	MessageID int64  `json:"message_id"`
	Status    string `json:"status" enum:"queued,not_sent" doc:"queued: handed to delivery; not_sent: stored, but no mail transport is configured."`
}

type communicateSkippedJSON struct {
	UserID int64  `json:"user_id"`
	Reason string `json:"reason"`
}

type communicateResultJSON struct {
	Messages []communicateMessageJSON `json:"messages" doc:"One stored message per recipient."`
	Skipped  []communicateSkippedJSON `json:"skipped" doc:"Requested recipients no message was stored for, and why."`
}

// sentMessageJSON is a stored message as the list shows it: its
// delivery, not its text (the body may carry health information).
type sentMessageJSON struct {
	ID               int64      `json:"id"`
	SenderID         int64      `json:"sender_id,omitempty" doc:"Absent for ward itself or a purged sender."`
	UserID           int64      `json:"user_id"`
	RecipientAddress string     `json:"recipient_address"`
	Subject          string     `json:"subject"`
	Status           string     `json:"status" enum:"queued,sent,not_sent,failed"`
	Attempts         int        `json:"attempts"`
	LastError        string     `json:"last_error,omitempty"`
	Created          time.Time  `json:"created"`
	Sent             *time.Time `json:"sent,omitempty"`
}

type sentMessagePage struct {
	Messages []sentMessageJSON `json:"messages"`
	Next     string            `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

// communicateMaxBody leaves room for a 64 KiB message escaped in JSON.
const communicateMaxBody = 8 * intervention.MaxMessageLen

func (s *server) registerCommunicate(api huma.API) {
	register(api, s, huma.Operation{
		OperationID: "communicate", Method: http.MethodPost, Path: "/api/intervention/{name}/communicate",
		Tags: []string{"interventions"}, Summary: "Send a message for an intervention",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound}, MaxBodyBytes: communicateMaxBody,
		Description: "Stores one message per recipient and queues its delivery by email (stored as not_sent " +
			"when no SMTP server is configured); the send is audited. Stricter than the reference, which " +
			"lets any signed-in user send: only an administrator, the intervention's own service account, " +
			"or staff (staff, staff_admin) who may view every recipient may call it. Deleted users and " +
			"users without a usable address are skipped and listed.",
	}, func(ctx context.Context, in *struct {
		Name string `path:"name" maxLength:"50"`
		Body communicateBody
	}) (*struct{ Body communicateResultJSON }, error) {
		b := in.Body
		res, err := s.ivs.Communicate(ctx, in.Name, intervention.CommunicateRequest{Protocol: b.Protocol,
			Group: b.Group, Users: b.Users, Subject: b.Subject, Message: b.Message})
		if err != nil {
			return nil, err
		}
		out := communicateResultJSON{Messages: make([]communicateMessageJSON, len(res.Messages)),
			Skipped: make([]communicateSkippedJSON, len(res.Skipped))}
		for i, m := range res.Messages {
			out.Messages[i] = communicateMessageJSON{UserID: m.UserID, MessageID: m.MessageID, Status: string(m.Status)}
		}
		for i, sk := range res.Skipped {
			out.Skipped[i] = communicateSkippedJSON{UserID: sk.UserID, Reason: sk.Reason}
		}
		return &struct{ Body communicateResultJSON }{Body: out}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "list-intervention-messages", Method: http.MethodGet, Path: "/api/intervention/{name}/communicate",
		Tags: []string{"interventions"}, Summary: "The messages sent for an intervention",
		Errors: []int{http.StatusNotFound},
		Description: "Administrators and the intervention's own service account only. In the order they were " +
			"stored, with each message's delivery status; never the message text.",
	}, func(ctx context.Context, in *struct {
		Name   string `path:"name" maxLength:"50"`
		Cursor string `query:"cursor" maxLength:"64" doc:"The next value of the previous page."`
		Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
	}) (*struct{ Body sentMessagePage }, error) {
		msgs, next, err := s.ivs.Messages(ctx, in.Name, store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		out := sentMessagePage{Messages: make([]sentMessageJSON, len(msgs)), Next: next}
		for i, m := range msgs {
			out.Messages[i] = sentMessageJSON{ID: m.ID, SenderID: m.SenderID, UserID: m.RecipientID,
				RecipientAddress: m.RecipientAddress, Subject: m.Subject, Status: string(m.Status),
				Attempts: m.Attempts, LastError: m.LastError, Created: m.CreatedAt, Sent: m.SentAt}
		}
		return &struct{ Body sentMessagePage }{Body: out}, nil
	})
}
