// scope's real-libraries check (run.sh): dates: moment, dayjs, luxon, date-fns.
const moment = require("moment"); const dayjs = require("dayjs"); const { DateTime } = require("luxon"); const df = require("date-fns");
const d = new Date(Date.UTC(2020,1,3,4,5,6));
console.log(moment.utc(d).format("YYYY-MM-DD HH:mm"), moment.utc(d).add(3,"days").fromNow !== undefined, dayjs(d).toISOString(), DateTime.fromJSDate(d,{zone:"utc"}).toISO(), df.formatISO(d,{representation:"date"}), df.addDays(d,2).toISOString());
