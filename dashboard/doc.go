// Package dashboard is the live migration dashboard: a page for admins,
// drawn in the browser with plain JavaScript and SVG from files embedded
// in the binary, that shows a serving process's sessions, draws a
// migration as it happens (its phases on a timeline, the sessions moving,
// the pause each one saw, the outcome), draws a session's object graph,
// and starts a migration (or a dry run) that leaves out the variables an
// admin clicked.
//
// What is always true:
//
//   - Every request is authenticated (HTTP Basic, checked by the Source
//     at a login's cost) and answered only for an admin: no credentials
//     401, anyone else 403. A request that changes something (POST) must
//     come from a page of this very origin (its Origin header names the
//     Host it was sent to), so that another site's page cannot drive it
//     with the browser's remembered credentials.
//   - Publishing an event never blocks the publisher (a migration): each
//     stream holds a bounded queue, and an event that does not fit is
//     dropped, counted, and the stream told how many it missed.
//   - A stream (Server-Sent Events) ends when its client leaves or when
//     the Hub closes: the process handed its listener to a successor, or
//     is stopping. The browser then reconnects, to whichever process
//     holds the listener.
//
// The Handler knows nothing of listeners: it serves the paths below the
// one it is mounted at (http.StripPrefix), on any listener.
package dashboard
