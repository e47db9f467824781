# frozen_string_literal: true

# FerryWebhook served without Rails: a small HTTP/1.1 server on Ruby's TCPServer, for the
# tests and a try on a laptop (in a Rails app, FerryWebhooksController does this part).
# It answers POST /ferry/webhooks and writes what it receives as JSON lines (to the file
# FERRY_RECEIVER_LOG names, else to stdout).
#
#   FERRY_WEBHOOK_SECRET=... PORT=4567 ruby server.rb
#
# PORT=0 takes a free port; the first line printed says which.

require "socket"
require "json"
require_relative "ferry_webhook"

MAX_HEAD = 32 * 1024
MAX_BODY = 10 * 1024 * 1024
LOG_LOCK = Mutex.new # one line at a time from concurrent connections

def report(entry)
  line = "#{JSON.generate(entry)}\n"
  LOG_LOCK.synchronize do
    if (path = ENV["FERRY_RECEIVER_LOG"])
      File.open(path, "a") { |f| f.write(line) }
    else
      $stdout.write(line)
      $stdout.flush
    end
  end
end

webhook = FerryWebhook.new(secrets: [ENV["FERRY_WEBHOOK_SECRET"], ENV["FERRY_WEBHOOK_SECRET_OLD"]])
webhook.on_run do |run, event|
  report(event: "run", delivery_id: event["delivery_id"], run_id: run["id"], sync: run["sync"],
         status: run["status"], user: run["user"], url: run["url"])
end
webhook.on_batch do |event|
  report(event: "batch", delivery_id: event["delivery_id"], run_id: event["run_id"],
         seq: event["seq"], last: event["last"], count: (event["records"] || []).size)
end
webhook.on_record do |step, outcome, key, diff, batch|
  report(event: "record", delivery_id: batch[:delivery_id], run_id: batch[:run_id],
         seq: batch[:seq], step: step, outcome: outcome, key: key, diff: diff)
end

def respond(client, status, body)
  text = JSON.generate(body)
  reason = { 200 => "OK", 400 => "Bad Request", 401 => "Unauthorized", 404 => "Not Found",
             405 => "Method Not Allowed", 413 => "Content Too Large", 500 => "Internal Server Error" }
  client.write("HTTP/1.1 #{status} #{reason.fetch(status, 'Status')}\r\n" \
               "Content-Type: application/json\r\nContent-Length: #{text.bytesize}\r\n" \
               "Connection: close\r\n\r\n#{text}")
end

# One request per connection (Connection: close); [method, path, headers, body] or nil.
def read_request(client)
  head = +""
  until head.end_with?("\r\n\r\n")
    return nil if head.bytesize > MAX_HEAD

    chunk = client.read(1)
    return nil if chunk.nil?

    head << chunk
  end
  request_line, *lines = head.split("\r\n")
  method, path, = request_line.to_s.split(" ")
  headers = {}
  lines.each do |line|
    name, value = line.split(":", 2)
    headers[name.strip.downcase] = value.to_s.strip if value
  end
  length = Integer(headers.fetch("content-length", "0"), 10)
  return [method, path, headers, :too_large] if length > MAX_BODY

  # a client that asks (curl does for larger bodies) waits for this before sending the body
  client.write("HTTP/1.1 100 Continue\r\n\r\n") if headers["expect"]&.casecmp?("100-continue")
  body = length.positive? ? client.read(length) : +""
  [method, path, headers, body.to_s]
rescue ArgumentError
  nil
end

server = TCPServer.new("127.0.0.1", Integer(ENV.fetch("PORT", "4567"), 10))
puts "listening on http://127.0.0.1:#{server.addr[1]}/"
$stdout.flush
trap("TERM") { exit 0 }

loop do
  client = server.accept
  Thread.new(client) do |c|
    method, path, headers, body = read_request(c)
    if method.nil?
      respond(c, 400, { error: "bad request" })
    elsif path != "/ferry/webhooks"
      respond(c, 404, { error: "not found" })
    elsif method != "POST"
      respond(c, 405, { error: "POST only" })
    elsif body == :too_large
      respond(c, 413, { error: "body too large" })
    else
      status, answer = webhook.call(body, headers["ferry-signature"], headers["ferry-delivery"])
      respond(c, status, answer)
    end
  rescue StandardError => e
    warn "server.rb: #{e.class}: #{e.message}"
  ensure
    c.close
  end
end
