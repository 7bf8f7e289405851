// Connects with the PostgreSQL JDBC driver the Flink job ships (run as a single-file Java program by
// test_postgres_tls.py) and prints whether the session is encrypted, or the driver's error in one line.
// Arguments: JDBC URL; the login comes from PROBE_USER / PROBE_PASSWORD, never the command line.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;

public class PgJdbcProbe {
    public static void main(String[] args) {
        String sql = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        try (Connection conn = DriverManager.getConnection(
                args[0], System.getenv("PROBE_USER"), System.getenv("PROBE_PASSWORD"));
             ResultSet rs = conn.createStatement().executeQuery(sql)) {
            rs.next();
            System.out.println("ssl=" + rs.getBoolean(1) + " version=" + rs.getString(2));
        } catch (SQLException e) {
            System.out.println("error: " + e.getMessage().replace('\n', ' '));
            System.exit(1);
        }
    }
}
