// The reference client of test/differential.test.ts: Apache Kafka's own Java AdminClient (kafka-clients, from the jars
// test/services fetches) runs describeCluster with each case's client properties and says what happened, so the suite
// can hold conncheck's verdict against the verdict of the client users really run. Compiled at test time with javac
// against those jars (test/lib/reference-clients.ts caches the class file by this file's hash).
//
// Input (stdin): one line per property, `<case id> TAB <property> TAB <value>`; a case's lines need not be adjacent.
// Output (stdout): one line per case, in input order, `<case id> TAB <verdict> TAB <detail>`, where verdict is
//   success          describeCluster answered (cluster id and nodes)
//   tls              the TLS handshake failed or never completed (e.g. the truststore has no trust anchor)
//   auth             SASL authentication failed, or the mechanism is not enabled
//   tcp              no connection to a bootstrap server could be made
//   broker           the bootstrap server answered, but a broker it advertises could not be reached
//   disconnected     the bootstrap server closed every connection before answering (e.g. TLS without SASL on SASL_SSL)
//   garbage          the bootstrap server's answer was no Kafka response (the client's network thread died reading it)
//   timeout          no answer in time, for none of the reasons above
//   error            anything else (the detail says what)
// and detail is the exception's class and message (or the cluster id), on one line. Cases run in parallel, each its own
// AdminClient with a client.id equal to the case id, whose network thread ("kafka-admin-client-thread | <id>") is
// how the client's own log lines are told apart.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.UnsupportedSaslMechanismException;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

public final class KafkaAdminCheck {
  private static final String THREAD_PREFIX = "kafka-admin-client-thread | ";

  /** The client's own log lines (INFO and up), by case id. */
  private static final Map<String, List<String>> LOGS = new ConcurrentHashMap<>();

  /** Bounds every case: a verdict within seconds, as conncheck's own deadline does. */
  private static final Map<String, String> LIMITS =
      Map.of(
          "request.timeout.ms", "4000",
          "default.api.timeout.ms", "6000",
          "socket.connection.setup.timeout.ms", "2000",
          "socket.connection.setup.timeout.max.ms", "2000",
          "reconnect.backoff.ms", "250",
          "reconnect.backoff.max.ms", "500",
          "retry.backoff.ms", "250",
          "retry.backoff.max.ms", "500");

  private static final class Capture extends AbstractAppender {
    Capture() {
      super("conncheck-capture", null, null, true, Property.EMPTY_ARRAY);
    }

    @Override
    public void append(LogEvent event) {
      String thread = event.getThreadName();
      if (thread == null || !thread.startsWith(THREAD_PREFIX)) return;
      String id = thread.substring(THREAD_PREFIX.length());
      LOGS.computeIfAbsent(id, k -> java.util.Collections.synchronizedList(new ArrayList<>()))
          .add(event.getMessage().getFormattedMessage() + (event.getThrown() == null ? "" : " (" + describe(event.getThrown()) + ")"));
    }
  }

  public static void main(String[] args) throws Exception {
    captureLogs();
    Map<String, Properties> cases = new LinkedHashMap<>();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.isEmpty()) continue;
        String[] parts = line.split("\t", 3);
        if (parts.length != 3) throw new IllegalArgumentException("not <id> TAB <property> TAB <value>: " + line);
        cases.computeIfAbsent(parts[0], k -> new Properties()).setProperty(parts[1], parts[2]);
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, cases.size()));
    Map<String, Future<String[]>> running = new LinkedHashMap<>();
    for (Map.Entry<String, Properties> entry : cases.entrySet()) {
      running.put(entry.getKey(), pool.submit(() -> check(entry.getKey(), entry.getValue())));
    }
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, Future<String[]>> entry : running.entrySet()) {
      String[] verdict = entry.getValue().get(60, TimeUnit.SECONDS);
      out.append(entry.getKey()).append('\t').append(verdict[0]).append('\t').append(oneLine(verdict[1])).append('\n');
    }
    System.out.print(out);
    System.out.flush();
    pool.shutdownNow();
    // Admin clients that failed at construction may leave non-daemon threads behind.
    System.exit(0);
  }

  private static String[] check(String id, Properties settings) {
    Properties props = new Properties();
    props.putAll(LIMITS);
    props.putAll(settings);
    props.setProperty("client.id", id);
    try (Admin admin = Admin.create(props)) {
      DescribeClusterResult cluster = admin.describeCluster();
      String clusterId = cluster.clusterId().get();
      Collection<Node> nodes = cluster.nodes().get();
      return new String[] {"success", "cluster " + clusterId + ", " + nodes.size() + " node(s)"};
    } catch (Throwable err) {
      return classify(id, err);
    }
  }

  private static String[] classify(String id, Throwable err) {
    String detail = describe(err);
    for (Throwable t = err; t != null; t = t.getCause()) {
      if (t instanceof SslAuthenticationException || t instanceof javax.net.ssl.SSLException) return new String[] {"tls", detail};
      if (t instanceof SaslAuthenticationException || t instanceof UnsupportedSaslMechanismException) return new String[] {"auth", detail};
      if (t instanceof AuthenticationException) return new String[] {"auth", detail};
      if (t instanceof java.security.GeneralSecurityException) return new String[] {"tls", detail};
    }
    boolean timedOut = false;
    for (Throwable t = err; t != null; t = t.getCause()) {
      if (t instanceof org.apache.kafka.common.errors.TimeoutException) timedOut = true;
    }
    if (!timedOut) return new String[] {"error", detail};
    // A timeout: the client retried until the deadline, and what it logged meanwhile says why.
    List<String> logs;
    synchronized (LOGS.getOrDefault(id, List.of())) {
      logs = List.copyOf(LOGS.getOrDefault(id, List.of()));
    }
    String[][] reasons = {
      // The answer was no Kafka response: a plain-text client reads a TLS record's header as a response size of some
      // 350 MB, and its network thread dies allocating it (with a larger heap it waits until the deadline instead).
      {"garbage", "(?s).*Uncaught exception in thread .*OutOfMemoryError.*"},
      // The TLS handshake never completed: the SSL engine could not be built (no trust anchor, …) or the broker hung up
      // during it.
      {"tls", "(?s).*(terminated during authentication|Unexpected error from .*(SSL|Security|trustAnchors|InvalidAlgorithmParameter)).*"},
      {"tcp", "(?s).*Connection to node -\\d+ .* could not be established.*"},
      {"broker", "(?s).*Connection to node \\d+ .* could not be established.*"},
      {"disconnected", "(?s).*Node -\\d+ disconnected.*"},
    };
    for (String[] reason : reasons) {
      for (String line : logs) {
        if (line.matches(reason[1])) return new String[] {reason[0], detail + " | " + line};
      }
    }
    return new String[] {"timeout", detail};
  }

  private static String describe(Throwable err) {
    StringBuilder text = new StringBuilder();
    for (Throwable t = err; t != null; t = t.getCause()) {
      if (text.length() > 0) text.append(" <- ");
      text.append(t.getClass().getName()).append(": ").append(t.getMessage());
      if (t.getCause() == t) break;
    }
    return text.toString();
  }

  private static String oneLine(String text) {
    return text.replaceAll("[\\r\\n\\t]+", " ");
  }

  /** Every log event of the clients to Capture, nothing to the console. */
  private static void captureLogs() {
    LoggerContext context = (LoggerContext) LogManager.getContext(false);
    Configuration config = context.getConfiguration();
    Capture capture = new Capture();
    capture.start();
    config.addAppender(capture);
    LoggerConfig root = config.getRootLogger();
    for (String name : new ArrayList<>(root.getAppenders().keySet())) root.removeAppender(name);
    root.addAppender(capture, Level.INFO, null);
    root.setLevel(Level.INFO);
    context.updateLoggers();
  }
}
