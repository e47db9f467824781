'use strict';
/*
 * Ferry's webhook receiver mounted in a small Express app. It writes what it receives as JSON
 * lines (to the file FERRY_RECEIVER_LOG names, else to stdout), where a real app would
 * refresh a cache, send a welcome message or enqueue a job.
 *
 *   FERRY_WEBHOOK_SECRET=... PORT=3000 node server.js
 *
 * PORT=0 takes a free port; the first line printed says which.
 */

const fs = require('fs');
const express = require('express');
const { ferryWebhook } = require('./ferry-webhook');

const log = process.env.FERRY_RECEIVER_LOG;
function report(entry) {
  const line = JSON.stringify(entry) + '\n';
  if (log) fs.appendFileSync(log, line);
  else process.stdout.write(line);
}

const app = express();
app.post(
  '/ferry/webhooks',
  express.raw({ type: 'application/json', limit: '10mb' }),
  ferryWebhook({
    /* FERRY_WEBHOOK_SECRET_OLD: the previous secret, accepted too while it is rotated */
    secret: [process.env.FERRY_WEBHOOK_SECRET, process.env.FERRY_WEBHOOK_SECRET_OLD],
    onRun: (run, event) =>
      report({ event: 'run', delivery_id: event.delivery_id, run_id: run.id, sync: run.sync,
               status: run.status, user: run.user, url: run.url }),
    onBatch: (event) =>
      report({ event: 'batch', delivery_id: event.delivery_id, run_id: event.run_id,
               seq: event.seq, last: event.last, count: (event.records || []).length }),
    onRecord: (step, outcome, key, diff, batch) =>
      report({ event: 'record', delivery_id: batch.deliveryId, run_id: batch.runId,
               seq: batch.seq, step, outcome, key, diff }),
  }),
);

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log('listening on http://127.0.0.1:%d/', server.address().port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
