package io.adevents.flink;

import java.util.Collections;
import java.util.HashSet;
import java.util.Set;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;

/**
 * Format {@code adevents-json}: each record parsed once, and never dropped.
 *
 * <p>Flink's {@code json} format can only fail the job or drop a record it cannot parse, so the job
 * used to read the topic a second time as raw bytes to dead-letter those. This format gives every
 * record one row: the JSON object's properties as text (exactly what {@code json} gives STRING
 * columns), the record's own bytes in {@code payload-column} and, when the value is not a UTF-8
 * JSON object, the reason in {@code error-column} with every property NULL.
 */
public final class EventJsonFormatFactory implements DeserializationFormatFactory {

    public static final String IDENTIFIER = "adevents-json";

    static final ConfigOption<String> PAYLOAD_COLUMN =
            ConfigOptions.key("payload-column").stringType().noDefaultValue()
                    .withDescription("BYTES column that receives the record's value as read");
    static final ConfigOption<String> ERROR_COLUMN =
            ConfigOptions.key("error-column").stringType().noDefaultValue()
                    .withDescription("STRING column: NULL, or why the value is not a JSON object");

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        Set<ConfigOption<?>> options = new HashSet<>();
        options.add(PAYLOAD_COLUMN);
        options.add(ERROR_COLUMN);
        return options;
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Collections.emptySet();
    }

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        final String payloadColumn = formatOptions.get(PAYLOAD_COLUMN);
        final String errorColumn = formatOptions.get(ERROR_COLUMN);
        return new DecodingFormat<DeserializationSchema<RowData>>() {
            @Override
            public DeserializationSchema<RowData> createRuntimeDecoder(
                    DynamicTableSource.Context sourceContext, DataType physicalDataType) {
                // The planner may have projected columns away: the decoder sees only those it reads.
                RowType rowType = (RowType) physicalDataType.getLogicalType();
                for (RowType.RowField field : rowType.getFields()) {
                    LogicalTypeRoot expected =
                            field.getName().equals(payloadColumn)
                                    ? LogicalTypeRoot.VARBINARY
                                    : LogicalTypeRoot.VARCHAR;
                    LogicalType type = field.getType();
                    if (type.getTypeRoot() != expected) {
                        throw new ValidationException(
                                String.format(
                                        "%s: column %s must be %s, not %s",
                                        IDENTIFIER,
                                        field.getName(),
                                        expected == LogicalTypeRoot.VARBINARY ? "BYTES" : "STRING",
                                        type.asSummaryString()));
                    }
                }
                TypeInformation<RowData> producedType =
                        sourceContext.createTypeInformation(physicalDataType);
                return new EventJsonDeserializationSchema(
                        rowType.getFieldNames().toArray(new String[0]),
                        payloadColumn,
                        errorColumn,
                        producedType);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }
}
